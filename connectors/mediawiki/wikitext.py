"""MediaWiki wikitext → clean text in sections, with the anchors MediaWiki gives its headings.

Used where no wiki can render the page for us (an XML dump). Templates, parser functions,
footnotes, images and comments are dropped rather than shown as markup: without the wiki we
cannot expand them, and half-expanded markup is noise in search results. Links become their
label, tables become ``cell | cell`` rows, list items ``- item``; ``[[Category:...]]`` links are
collected as the page's categories.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import mwparserfromhell
from mwparserfromhell.nodes import (
    Comment,
    ExternalLink,
    Heading,
    HTMLEntity,
    Node,
    Tag,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode
from pydantic import BaseModel, Field

from orgkb.connectors.base import Section
from orgkb.connectors.formats.headings import HeadingTrail
from orgkb.connectors.wiki import fragment

# Tags whose content is not prose a reader sees as text on the page (or is markup we cannot render).
_DROPPED_TAGS = frozenset(
    {
        "ref", "references", "gallery", "math", "chem", "timeline", "score", "templatedata", "templatestyles",
        "includeonly", "indicator", "graph", "mapframe", "maplink", "categorytree", "inputbox", "imagemap",
        "style", "script", "section",
    }
)  # fmt: skip
# Tags whose content is shown verbatim, line breaks included.
_VERBATIM_TAGS = frozenset({"pre", "syntaxhighlight", "source", "nowiki"})
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_HEADING_SPACES = re.compile(r"[ _]+")

DEFAULT_CATEGORY_NAMES = frozenset({"category"})
DEFAULT_FILE_NAMES = frozenset({"file", "image", "media"})


class WikitextPage(BaseModel):
    """A page's text in sections, and the categories its wikitext puts it in."""

    sections: list[Section]
    categories: list[str] = Field(default_factory=list)


def heading_anchor(heading: str) -> str:
    """The id MediaWiki (HTML5 fragment mode, the default) gives a heading's text."""
    return _HEADING_SPACES.sub(" ", heading).strip().replace(" ", "_")


def render_wikitext(
    text: str,
    category_names: Iterable[str] = DEFAULT_CATEGORY_NAMES,
    file_names: Iterable[str] = DEFAULT_FILE_NAMES,
) -> WikitextPage:
    """Render ``text`` into sections; ``*_names`` are the lower-cased names (and aliases) of the
    wiki's Category and File namespaces, which differ by language."""
    renderer = _Renderer({n.lower() for n in category_names}, {n.lower() for n in file_names})
    return renderer.page(mwparserfromhell.parse(text))


class _Renderer:
    def __init__(self, category_names: set[str], file_names: set[str]) -> None:
        self.category_names = category_names
        self.file_names = file_names
        self.categories: list[str] = []

    def page(self, code: Wikicode) -> WikitextPage:
        sections: list[Section] = []
        trail = HeadingTrail()
        anchor: str | None = None
        used: dict[str, int] = {}
        buffer: list[str] = []

        def close() -> None:
            body = clean_text("".join(buffer))
            if body:
                sections.append(Section(heading_path=trail.path, text=body, anchor=anchor))
            buffer.clear()

        for node in code.nodes:
            if isinstance(node, Heading):
                close()
                title = clean_text(self.inline(node.title.nodes)).replace("\n", " ")
                if not title:
                    continue
                trail.enter(node.level, title)
                anchor = heading_anchor(title)
                # MediaWiki numbers repeated headings: Notes, Notes_2, Notes_3 (case-insensitively).
                count = used[anchor.lower()] = used.get(anchor.lower(), 0) + 1
                anchor = fragment(anchor if count == 1 else f"{anchor}_{count}")
            else:
                buffer.append(self.node(node, buffer))
        close()
        return WikitextPage(sections=sections, categories=list(dict.fromkeys(self.categories)))

    def inline(self, nodes: Iterable[Node]) -> str:
        out: list[str] = []
        for node in nodes:
            out.append(self.node(node, out))
        return "".join(out)

    def node(self, node: Node, before: list[str]) -> str:
        if isinstance(node, Text):
            return _MAGIC_WORD.sub("", str(node))
        if isinstance(node, Wikilink):
            return self.wikilink(node)
        if isinstance(node, ExternalLink):
            return self.inline(node.title.nodes) if node.title is not None else str(node.url)
        if isinstance(node, HTMLEntity):
            return node.normalize()
        if isinstance(node, Tag):
            return self.tag(node, before)
        if isinstance(node, Heading):  # a heading inside a tag: keep its words
            return "\n" + self.inline(node.title.nodes) + "\n"
        if isinstance(node, Comment):
            return ""
        return ""  # templates, template arguments: cannot be expanded without the wiki

    def wikilink(self, link: Wikilink) -> str:
        target = str(link.title).strip()
        if target.startswith(":"):  # [[:Category:X]] links to the category page instead of adding one
            target = target[1:]
        elif ":" in target:
            prefix, rest = target.split(":", 1)
            prefix = prefix.strip().lower()
            if prefix in self.category_names:
                self.categories.append(rest.strip().replace("_", " "))
                return ""
            if prefix in self.file_names:
                return ""
        if link.text is not None:
            return self.inline(link.text.nodes)
        return target

    def tag(self, tag: Tag, before: list[str]) -> str:
        name = str(tag.tag).strip().lower()
        if name in _DROPPED_TAGS:
            return ""
        if name in _VERBATIM_TAGS:
            contents = str(tag.contents) if tag.contents is not None else ""
            return contents if name == "nowiki" else "\n" + contents.strip("\n") + "\n"
        if name == "br":
            return "\n"
        if name == "hr":
            return "\n\n"
        if name == "li":
            # "##" arrives as two list tags: only the first starts the item.
            return "" if before and before[-1] == "- " else "- "
        if name in ("dt", "dd"):
            return "" if not before or before[-1].endswith("\n") else " "
        if name == "table":
            return "\n" + self.table(tag) + "\n"
        return self.inline(tag.contents.nodes) if tag.contents is not None else ""

    def table(self, table: Tag) -> str:
        caption = ""
        loose: list[str] = []  # cells before the first row marker form an implicit first row
        rows: list[str] = []
        for node in table.contents.nodes if table.contents is not None else []:
            if not isinstance(node, Tag):
                continue
            name = str(node.tag).lower()
            if name == "tr":
                rows.append(self.row(n for n in node.contents.nodes if isinstance(n, Tag)))
            elif name in ("td", "th"):
                text = self.cell(node)
                if text.startswith("+") and not loose and not rows:  # mwparserfromhell reads "|+ x" as a cell
                    caption = text[1:].strip()
                else:
                    loose.append(text)
        return "\n".join(r for r in [caption, " | ".join(loose), *rows] if r)

    def row(self, cells: Iterable[Tag]) -> str:
        texts = [self.cell(c) for c in cells if str(c.tag).lower() in ("td", "th")]
        while texts and not texts[-1]:
            texts.pop()
        return " | ".join(texts)

    def cell(self, cell: Tag) -> str:
        text = self.inline(cell.contents.nodes) if cell.contents is not None else ""
        return clean_text(text).replace("\n", " ")


def clean_text(text: str) -> str:
    """Spaces collapsed on each line, lines trimmed, runs of blank lines cut to one."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    lines = [line for line in lines if line not in ("-",)]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
