"""Cutting documents into chunks that follow their structure and fit the model's token limit.

A chunk never crosses a section boundary, so every chunk has one heading path and one
location. Inside a section, paragraphs are packed greedily; a paragraph too long for one
chunk is split at sentence ends, and a sentence too long at word boundaries. The budget is
counted with the embedding model's own tokenizer, because a model silently drops what
exceeds its limit: text past it would be indexed but never searchable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from orgkb.connectors.identifiers import chunk_id
from orgkb.connectors.base import Document, Location, Section
from orgkb.server.store.records import Chunk, context_line

TokenCounter = Callable[[Sequence[str]], list[int]]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


class _Piece(BaseModel):
    text: str
    line_start: int | None
    line_end: int | None
    # Part of the same paragraph as the piece before it (a long paragraph split at sentences).
    continues: bool = False


def chunk_document(document: Document, count_tokens: TokenCounter, max_tokens: int) -> list[Chunk]:
    """Cut ``document`` into chunks of at most ``max_tokens`` tokens including their context line."""
    doc_id = document.id
    content_hash = document.content_hash
    chunks: list[Chunk] = []
    for section in document.sections:
        context = context_line(document.title, section.heading_path)
        # The context line is embedded with every chunk, so it takes part of the budget.
        budget = max(16, max_tokens - count_tokens([context])[0] - 1)
        for piece in _split_section(section, count_tokens, budget):
            location = Location(line_start=piece.line_start, line_end=piece.line_end, page=section.page)
            chunks.append(
                Chunk(
                    id=chunk_id(doc_id, content_hash, len(chunks)),
                    doc_id=doc_id,
                    ordinal=len(chunks),
                    text=piece.text,
                    heading_path=section.heading_path,
                    location=location,
                    anchor=section.anchor,
                )
            )
    return chunks


def _split_section(section: Section, count_tokens: TokenCounter, budget: int) -> list[_Piece]:
    paragraphs = _paragraphs(section)
    if not paragraphs:
        return []
    sizes = count_tokens([p.text for p in paragraphs])
    units: list[tuple[_Piece, int]] = []
    for paragraph, size in zip(paragraphs, sizes, strict=True):
        if size <= budget:
            units.append((paragraph, size))
        else:
            units.extend(_split_long(paragraph, count_tokens, budget))
    return _pack(units, budget)


def _paragraphs(section: Section) -> list[_Piece]:
    """Paragraphs of a section with their line ranges (when the section has lines)."""
    pieces: list[_Piece] = []
    text = section.text
    position = 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        raw = text[position:end]
        stripped = raw.strip()
        if stripped:
            start_line = end_line = None
            if section.line_start is not None:
                lead = raw[: len(raw) - len(raw.lstrip())]
                start_line = section.line_start + text.count("\n", 0, position) + lead.count("\n")
                end_line = start_line + stripped.count("\n")
            pieces.append(_Piece(text=stripped, line_start=start_line, line_end=end_line))
        if match:
            position = match.end()
    return pieces


def _split_long(paragraph: _Piece, count_tokens: TokenCounter, budget: int) -> list[tuple[_Piece, int]]:
    """Split an oversize paragraph at sentence ends, then at words. Lines keep the paragraph's range."""
    sentences = [s for s in _SENTENCE_END.split(paragraph.text) if s.strip()]
    out: list[tuple[_Piece, int]] = []
    for sentence, size in zip(sentences, count_tokens(sentences), strict=True):
        if size <= budget:
            out.append((_Piece(text=sentence, line_start=paragraph.line_start, line_end=paragraph.line_end), size))
            continue
        for words in _split_words(sentence, count_tokens, budget):
            piece = _Piece(text=words, line_start=paragraph.line_start, line_end=paragraph.line_end)
            out.append((piece, count_tokens([words])[0]))
    for piece, _ in out[1:]:
        piece.continues = True
    return _narrow_lines(paragraph, out)


def _narrow_lines(paragraph: _Piece, parts: list[tuple[_Piece, int]]) -> list[tuple[_Piece, int]]:
    """Give each part of a multi-line paragraph the lines it actually spans."""
    if paragraph.line_start is None or paragraph.line_start == paragraph.line_end:
        return parts
    text = paragraph.text
    cursor = 0
    narrowed = []
    for piece, size in parts:
        found = text.find(piece.text[:40], cursor)
        if found < 0:
            narrowed.append((piece, size))
            continue
        first = paragraph.line_start + text.count("\n", 0, found)
        last = first + piece.text.count("\n")
        narrowed.append((_Piece(text=piece.text, line_start=first, line_end=last, continues=piece.continues), size))
        cursor = found + 1
    return narrowed


def _split_words(text: str, count_tokens: TokenCounter, budget: int) -> list[str]:
    """Greedy word packing for a run of text with no sentence breaks (tables, code, lists)."""
    words = text.split(" ")
    sizes = count_tokens(words)
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for word, size in zip(words, sizes, strict=True):
        if current and used + size > budget:
            parts.append(" ".join(current))
            current, used = [], 0
        if size > budget:
            # A single "word" longer than the budget (a base64 blob): cut it by characters.
            step = max(1, len(word) * budget // max(size, 1))
            parts.extend(word[i : i + step] for i in range(0, len(word), step))
            continue
        current.append(word)
        used += size
    if current:
        parts.append(" ".join(current))
    return [p for p in parts if p.strip()]


def _pack(units: list[tuple[_Piece, int]], budget: int) -> list[_Piece]:
    """Join consecutive units into chunks as large as the budget allows."""
    chunks: list[_Piece] = []
    text = ""
    first: int | None = None
    last: int | None = None
    used = 0
    for piece, size in units:
        # Joining two units costs about one extra token for the separator.
        if text and used + size + 1 > budget:
            chunks.append(_Piece(text=text, line_start=first, line_end=last))
            text, used, first = "", 0, None
        if not text:
            first = piece.line_start
            text = piece.text
        else:
            # Sentences of one paragraph stay one paragraph; paragraphs keep their blank line.
            text += (" " if piece.continues else "\n\n") + piece.text
        last = piece.line_end if piece.line_end is not None else last
        used += size + (1 if used else 0)
    if text:
        chunks.append(_Piece(text=text, line_start=first, line_end=last))
    return chunks
