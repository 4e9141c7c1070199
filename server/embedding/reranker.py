"""Optional cross-encoder reranking of the best fused candidates.

A cross-encoder reads the query and a passage together, which ranks better than comparing two
separately made vectors, but costs a model call per candidate: so only the first
``rerank_candidates`` documents are rescored. It is off unless ``[search] rerank_model`` names
a model. A model that cannot be loaded (no network, wrong path) turns reranking off with one
logged reason, which every search response then carries; search itself keeps working.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from orgkb.server.embedding.models import LoadOnce, resolve_model_path

log = logging.getLogger(__name__)


class RerankerUnavailable(Exception):
    """The configured reranking model cannot be used; the message says why."""


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher means more relevant."""

    @property
    def model_id(self) -> str:
        """The model's name, reported with results."""
        ...

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers `CrossEncoder`, loaded on first use (thread-safe)."""

    def __init__(self, model: str, device: str = "auto", max_tokens: int = 512) -> None:
        self._name = model
        self._device = device
        self._max_tokens = max_tokens
        self._model = LoadOnce(self._load)

    @property
    def model_id(self) -> str:
        return self._name

    def load(self) -> Any:
        """Load the model now; raise `RerankerUnavailable` with the reason if it cannot be."""
        return self._model()

    def _load(self) -> Any:
        location = resolve_model_path(self._name)
        from sentence_transformers import CrossEncoder

        try:
            # device None lets sentence-transformers pick CUDA or MPS when present, as "auto" promises.
            device = None if self._device == "auto" else self._device
            return CrossEncoder(
                location.source, device=device, max_length=self._max_tokens, local_files_only=location.local
            )
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one actionable reason
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RerankerUnavailable(
                f"cannot load reranking model {self._name!r} ({first_line[:300]}); "
                "give a local folder path, or a Hugging Face name already in the local cache"
            ) from exc

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        model = self.load()
        scores = model.predict([(query, p) for p in passages], show_progress_bar=False, convert_to_numpy=True)
        return [float(s) for s in scores]


def create_reranker(model: str | None, device: str = "auto") -> Reranker | None:
    """The reranker ``[search] rerank_model`` names, or None when reranking is off."""
    if not model:
        return None
    return CrossEncoderReranker(model, device=device)
