"""Token budgets: passages cut at sentence ends around what matched, and a cheap token estimate.

An assistant pays for every character a search returns, so a result is cut to a budget: each
passage shows the sentences that match the query best (whole sentences, never a word cut in
half), and says where the full passage is, one `fetch` away.
"""

from __future__ import annotations

import re
from typing import NamedTuple

CHARS_PER_TOKEN = 4  # English prose with the common BPE tokenizers; close enough for a budget

# A sentence ends at . ! ? followed by space, or at a line break (lists, tables, Q&A lines).
_BOUNDARY = re.compile(r"(?<=[.!?;:])[ \t]+(?=\S)|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_STEM = 5  # "reimbursed" ~ "reimbursement": compare word starts, as a crude stemmer


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (characters / 4, rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


class Excerpt(NamedTuple):
    """``text[start:end]``, the part of a passage shown; ``cut`` when it is not the whole passage."""

    start: int
    end: int
    cut: bool


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence or line of ``text``, in order, stripped of surrounding space."""
    spans: list[tuple[int, int]] = []
    position = 0
    for match in [*_BOUNDARY.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[position:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((position + lead, position + len(piece.rstrip())))
        if match:
            position = match.end()
    return spans


def excerpt(text: str, query: str, max_chars: int) -> Excerpt:
    """The whole sentences of ``text`` around the one that matches ``query`` best, within ``max_chars``.

    The best sentence shares the most query words (by their first letters); the excerpt grows
    from it forwards, then backwards, while it fits. A best sentence longer than ``max_chars``
    is cut at the last word boundary that fits.
    """
    if len(text) <= max_chars:
        return Excerpt(0, len(text), False)
    spans = sentence_spans(text)
    if not spans:
        return Excerpt(0, 0, bool(text))
    wanted = {w.lower()[:_STEM] for w in _WORD.findall(query) if len(w) > 2}
    scores = [len(wanted & {w.lower()[:_STEM] for w in _WORD.findall(text[s:e])}) for s, e in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    first = last = best
    start, end = spans[best]
    if end - start > max_chars:
        cut = text.rfind(" ", start, start + max_chars)
        end = cut if cut > start else start + max_chars
        return Excerpt(start, end, True)
    while True:
        grown = False
        if last + 1 < len(spans) and spans[last + 1][1] - start <= max_chars:
            last += 1
            end = spans[last][1]
            grown = True
        if first > 0 and end - spans[first - 1][0] <= max_chars:
            first -= 1
            start = spans[first][0]
            grown = True
        if not grown:
            break
    return Excerpt(start, end, (start, end) != (0, len(text)))
