"""HTML: headings become heading paths; paragraphs, list items, code and table rows become text.

Page furniture (navigation, headers, footers, scripts, forms) is dropped so search results
are the page's content, not its menu.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import CData, NavigableString, Tag

from orgkb.connectors.base import MetadataValue, Section
from orgkb.connectors.formats.headings import HeadingTrail
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import collapse_spaces

MIME_TYPE = "text/html"

_DROPPED = frozenset(
    {
        "script",
        "style",
        "nav",
        "header",
        "footer",
        "noscript",
        "svg",
        "form",
        "template",
        "iframe",
        "head",
        "title",
        "button",
    }
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Elements that end the running paragraph; anything else is inline and joins it.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "section",
        "summary", "ul", "html",
    }
)  # fmt: skip
# A <header> inside these belongs to the content (an article's own heading); elsewhere it is site chrome.
_SECTIONING = ("article", "main", "section")
_META_KEYS = ("description", "author", "keywords")
_WHITESPACE = re.compile(r"\s+")


def parse(text: str, name: str) -> ParsedFile:
    """Parse an HTML page with the standard library's parser (no lxml needed).

    The title is ``<title>``, else the first ``<h1>``. ``line_start`` of a section is the
    source line of its first block, as far as the parser reports it (approximate: the text of
    one block may span several source lines). A section's ``anchor`` is the ``id`` of its
    heading, or of the first element inside it that has one (MediaWiki's ``mw-headline``).
    """
    soup = BeautifulSoup(text, "html.parser")
    title_tag = soup.find("title")
    title = _inline_text(title_tag) if isinstance(title_tag, Tag) else ""
    metadata = _meta(soup)
    walker = _Walker()
    walker.walk(soup)
    walker.finish()
    if not title:
        first_h1 = soup.find("h1")
        title = _inline_text(first_h1) if isinstance(first_h1, Tag) else ""
    return ParsedFile(title=title or None, sections=walker.sections, mime_type=MIME_TYPE, metadata=metadata)


class _Walker:
    """Collects sections in document order while walking the tree once."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._trail = HeadingTrail()
        self._anchor: str | None = None
        self._blocks: list[str] = []
        self._first_line: int | None = None
        self._inline: list[str] = []
        self._inline_line: int | None = None
        self._prefix = ""

    def walk(self, node: Tag) -> None:
        """Visit ``node``'s children, appending inline text and emitting blocks."""
        list_number = 0
        for child in node.children:
            if isinstance(child, NavigableString):
                # Comments, doctypes and processing instructions are NavigableString subclasses too.
                if type(child) is NavigableString or isinstance(child, CData):
                    if child.strip() and self._inline_line is None:
                        self._inline_line = node.sourceline
                    self._inline.append(_WHITESPACE.sub(" ", str(child)))
                continue
            if not isinstance(child, Tag) or child.has_attr("hidden"):
                continue
            if child.name in _DROPPED and not (child.name == "header" and child.find_parent(_SECTIONING)):
                continue
            name = child.name
            if name in _HEADINGS:
                self._flush()
                self._close_section()
                heading = _inline_text(child)
                if heading:
                    self._trail.enter(_HEADINGS[name], heading)
                    self._anchor = _anchor_of(child)
            elif name == "br":
                self._inline.append("\n")
            elif name == "pre":
                self._flush()
                self._add_block(child.get_text().strip("\n"), child.sourceline, keep_lines=True)
            elif name == "table":
                self._flush()
                self._add_block(_table_text(child), child.sourceline, keep_lines=True)
            elif name in _BLOCKS:
                self._flush()
                if name == "li":
                    list_number += 1
                    self._prefix = f"{list_number}. " if node.name == "ol" else "- "
                self.walk(child)
                self._flush()
                self._prefix = ""
            else:
                self.walk(child)

    def finish(self) -> None:
        """Emit whatever is still pending at the end of the document."""
        self._flush()
        self._close_section()

    def _flush(self) -> None:
        """End the running paragraph (inline text gathered so far) as a block."""
        text = "".join(self._inline)
        if text.strip():
            self._add_block(self._prefix + text, self._inline_line, keep_lines=False)
            self._prefix = ""
        self._inline, self._inline_line = [], None

    def _add_block(self, text: str, line: int | None, keep_lines: bool) -> None:
        text = "\n".join(part.rstrip() for part in text.split("\n")) if keep_lines else collapse_spaces(text)
        if not text.strip():
            return
        if not self._blocks:
            self._first_line = line
        self._blocks.append(text)

    def _close_section(self) -> None:
        if self._blocks:
            self.sections.append(
                Section(
                    heading_path=self._trail.path,
                    text="\n\n".join(self._blocks),
                    line_start=self._first_line,
                    anchor=self._anchor,
                )
            )
        self._blocks, self._first_line = [], None


def _inline_text(tag: Tag) -> str:
    """A tag's text on one line with whitespace collapsed."""
    return _WHITESPACE.sub(" ", tag.get_text(" ")).strip()


def _anchor_of(heading: Tag) -> str | None:
    """The fragment that links to ``heading``: its own ``id`` or that of an element inside it."""
    own = heading.get("id")
    if isinstance(own, str) and own:
        return own
    inner = heading.find(id=True)
    if isinstance(inner, Tag):
        value = inner.get("id")
        return value if isinstance(value, str) and value else None
    return None


def _table_text(table: Tag) -> str:
    """A table row by row, cells joined with `` | `` (nested tables' rows are not repeated)."""
    rows: list[str] = []
    caption = table.find("caption")
    if isinstance(caption, Tag) and _inline_text(caption):
        rows.append(_inline_text(caption))
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells = [_inline_text(cell) for cell in row.find_all(["td", "th"], recursive=False)]
        while cells and not cells[-1]:  # trailing empty cells would leave a dangling " | "
            cells.pop()
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _meta(soup: BeautifulSoup) -> dict[str, MetadataValue]:
    """``<meta name=description|author|keywords>`` contents, which describe the page well."""
    metadata: dict[str, MetadataValue] = {}
    for key in _META_KEYS:
        tag = soup.find("meta", attrs={"name": key})
        if isinstance(tag, Tag):
            content = tag.get("content")
            if isinstance(content, str) and content.strip():
                metadata[key] = content.strip()
    return metadata
