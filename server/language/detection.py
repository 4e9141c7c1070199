"""Which language a text is written in, by py3langid (its model ships inside the package).

Detection is limited to the languages orgkb can analyse (those with a Snowball stemmer): a
language the lexical index cannot stem gains nothing from being named, and fewer candidates
make short texts more reliable. Detection on a few words is guesswork, so every caller gives
a fallback and a text too short or too unclear gets it instead of a guess.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from orgkb.server.language.analysis import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

# Below this many letters a text's language is not guessed.
MIN_LETTERS = 40
# A whole document must be this sure; a chunk differing from its document must be surer.
DOCUMENT_CONFIDENCE = 0.5
CHUNK_CONFIDENCE = 0.9
# Enough of a long document to tell its language; the rest only costs time.
SAMPLE_CHARS = 6000


class Detection(NamedTuple):
    """A detected language and the detector's confidence in it (0..1)."""

    language: str
    confidence: float


class DocumentLanguages(NamedTuple):
    """The language of a document, and of each of its chunks (a section may differ)."""

    document: str
    chunks: list[str]


_identifier = None
_identifier_lock = threading.Lock()


def _model():  # type: ignore[no-untyped-def]
    global _identifier
    with _identifier_lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(sorted(SUPPORTED_LANGUAGES & set(identifier.labels)))
            _identifier = identifier
        return _identifier


def detect(text: str, among: Iterable[str] | None = None) -> Detection | None:
    """The language of ``text`` (None when it has too few letters to tell).

    ``among`` limits the answer to those languages, confidence renormalised over them: a query
    against an index holding English and Romanian is one or the other.
    """
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS and among is None:
        return None
    ranked = _model().rank(sample)
    if among is not None:
        allowed = set(among)
        ranked = [(lang, score) for lang, score in ranked if lang in allowed]
        total = sum(score for _, score in ranked)
        if not ranked or total <= 0:
            return None
        ranked = [(lang, score / total) for lang, score in ranked]
    language, confidence = ranked[0]
    return Detection(language, float(confidence))


def document_languages(text: str, chunk_texts: Sequence[str], *, declared: object = None) -> DocumentLanguages:
    """The language of a document and of each chunk of it.

    ``declared`` (a source's configured language, or a document's own ``language`` metadata)
    applies to the whole document and skips detection, when it is a language orgkb analyses. Otherwise the document gets its
    detected language (the default when unsure), and a chunk keeps it unless the chunk is long
    and clearly in another language: a Romanian page with an English section.
    """
    if isinstance(declared, str) and declared in SUPPORTED_LANGUAGES:
        return DocumentLanguages(declared, [declared] * len(chunk_texts))
    found = detect(text)
    language = found.language if found is not None and found.confidence >= DOCUMENT_CONFIDENCE else DEFAULT_LANGUAGE
    chunks = []
    for chunk_text in chunk_texts:
        own = detect(chunk_text) if len(chunk_texts) > 1 else None
        chunks.append(own.language if own is not None and own.confidence >= CHUNK_CONFIDENCE else language)
    return DocumentLanguages(language, chunks)
