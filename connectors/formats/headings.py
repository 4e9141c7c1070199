"""Turning a stream of headings with levels into nested heading paths, for any format."""

from __future__ import annotations

# A heading path is repeated in every chunk under it; a "heading" longer than this is a
# paragraph marked up by mistake (or on purpose, to make every chunk huge): it is cut here.
MAX_HEADING_CHARS = 300


class HeadingTrail:
    """The headings enclosing the current position, as ``(level, title)`` from outermost in.

    A new heading closes every open heading at its level or deeper, so an H3 after an H1
    nests directly under the H1 (no invented H2) and a following H2 replaces the H3.
    """

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> None:
        """Record a heading of ``level`` (smaller is outer) at the current position."""
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        if len(title) > MAX_HEADING_CHARS:
            title = title[: MAX_HEADING_CHARS - 1].rstrip() + "…"
        self._open.append((level, title))

    @property
    def path(self) -> list[str]:
        """The titles of the open headings, outermost first."""
        return [title for _, title in self._open]
