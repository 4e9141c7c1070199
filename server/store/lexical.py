"""The rows of the FTS5 (BM25) tables: a document's and its chunks' text, analysed per language.

One function for both writers of those tables, the catalog (a document swapped in) and the
schema migration (tables rebuilt from stored text), so an upgraded index matches exactly what
a fresh one would hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from orgkb.server.language.analysis import analyse


class ChunkText(NamedTuple):
    """What the lexical index needs of one chunk."""

    text: str
    heading_path: Sequence[str]
    language: str


class LexicalRows(NamedTuple):
    """``documents_fts`` (title, body) and ``chunks_fts`` (title, heading, body) rows, analysed."""

    document: tuple[str, str]
    chunks: list[tuple[str, str, str]]


def lexical_rows(title: str, text: str, language: str, chunks: Sequence[ChunkText]) -> LexicalRows:
    """Analysed rows for a document in ``language`` whose chunks may each have their own language.

    The whole-document body is analysed in the document's language, except in a document
    mixing languages: there each chunk's text is analysed in its own, so a Romanian page's
    English section is still stemmed as English.
    """
    analysed_title = analyse(title, language)
    if all(c.language == language for c in chunks):
        body = analyse(text, language)
    else:
        headings = dict.fromkeys(h for c in chunks for h in c.heading_path)
        body = " ".join([analyse(" ".join(headings), language), *(analyse(c.text, c.language) for c in chunks)])
    chunk_rows = [
        (analyse(title, c.language), analyse(" ".join(c.heading_path), c.language), analyse(c.text, c.language))
        for c in chunks
    ]
    return LexicalRows((analysed_title, body), chunk_rows)
