"""Which languages an embedding model understands, so search can lean on BM25 where it does not.

A model trained on English alone places a Romanian query close to whatever shares its subword
pieces, not its meaning; fusion should not give such a ranking half the say. The languages
come from `EmbeddingConfig.languages` when set, else from the known models below; a model
that is neither declared nor known is assumed to cover every language (no correction).
"""

from __future__ import annotations

from collections.abc import Sequence

ANY_LANGUAGE = "*"

_ENGLISH = frozenset({"en"})
# Keyed by the model's name without its organisation (a local folder keeps the model's name).
KNOWN_MODELS: dict[str, frozenset[str] | None] = {
    "all-MiniLM-L6-v2": _ENGLISH,
    "all-MiniLM-L12-v2": _ENGLISH,
    "all-mpnet-base-v2": _ENGLISH,
    "multi-qa-MiniLM-L6-cos-v1": _ENGLISH,
    "bge-small-en-v1.5": _ENGLISH,
    "bge-base-en-v1.5": _ENGLISH,
    "e5-small-v2": _ENGLISH,
    "e5-base-v2": _ENGLISH,
    # Multilingual models: about 100 languages (e5, bge-m3), 50+ (paraphrase-multilingual), Romanian included.
    "multilingual-e5-small": None,
    "multilingual-e5-base": None,
    "multilingual-e5-large": None,
    "paraphrase-multilingual-MiniLM-L12-v2": None,
    "paraphrase-multilingual-mpnet-base-v2": None,
    "bge-m3": None,
    "LaBSE": None,
}


def model_languages(model_id: str, declared: Sequence[str] | None = None) -> frozenset[str] | None:
    """The languages ``model_id`` was trained on; None when it handles any language."""
    if declared:
        return None if ANY_LANGUAGE in declared else frozenset(declared)
    name = model_id.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]
    return KNOWN_MODELS.get(name)
