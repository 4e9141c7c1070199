"""``[[wikilinks]]`` in Markdown wikis: finding them, resolving them to pages, rewriting them as text.

Obsidian writes ``[[Page]]``, ``[[Page|shown text]]``, ``[[Page#Section]]`` and embeds
``![[Page]]`` / ``![[diagram.png]]``; GitHub wikis write ``[[shown text|Page-Name]]`` (the
other way round). A link becomes the words a reader sees: the alias, else the linked page's
title, so search matches what the page says rather than its file names.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SEPARATORS = re.compile(r"[\s_-]+")
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")


def _normal(name: str) -> str:
    """A page name compared loosely: case, spaces, dashes and underscores do not matter."""
    return _SEPARATORS.sub(" ", name).strip().casefold()


def _strip_suffix(name: str) -> str:
    lower = name.lower()
    for suffix in MARKDOWN_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass
class PageIndex:
    """The Markdown pages of a wiki by name, to resolve links written as page names or paths."""

    paths: list[str]
    _by_stem: dict[str, list[str]] = field(default_factory=dict, init=False)
    _by_path: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for path in sorted(self.paths, key=lambda p: (p.count("/"), p)):
            stem = _strip_suffix(path)
            self._by_path.setdefault(_normal(stem), path)
            self._by_stem.setdefault(_normal(posixpath.basename(stem)), []).append(path)

    def resolve(self, target: str, from_path: str = "") -> str | None:
        """The path of the page ``target`` names, or None when the wiki has no such page.

        A name with a folder (``guides/VPN``) matches that path, relative to the linking page
        first; a bare name matches a page of that name anywhere, the shallowest first (as
        Obsidian does).
        """
        name = _strip_suffix(target.strip().lstrip("/"))
        if not name:
            return None
        if "/" in name:
            relative = posixpath.normpath(posixpath.join(posixpath.dirname(from_path), name))
            for candidate in (relative, name):
                found = self._by_path.get(_normal(candidate))
                if found:
                    return found
            return None
        matches = self._by_stem.get(_normal(name))
        return matches[0] if matches else None


@dataclass(frozen=True)
class WikiLink:
    """One link as written: the page part, the section part and the alias (all optional)."""

    page: str
    section: str
    alias: str
    embed: bool

    @classmethod
    def parse(cls, inner: str, embed: bool, exists: Callable[[str], bool]) -> WikiLink:
        """Split ``Page#Section|alias``; GitHub's ``alias|Page`` order is recognised by which side is a page."""
        target, alias = inner, ""
        if "|" in inner:
            left, right = (part.strip() for part in inner.split("|", 1))
            left_page = left.split("#", 1)[0]
            right_page = right.split("#", 1)[0]
            target, alias = (right, left) if exists(right_page) and not exists(left_page) else (left, right)
        page, _, section = target.partition("#")
        section = "" if section.startswith("^") else section.strip()  # a ^block id is not text
        return cls(page=page.strip(), section=section, alias=alias, embed=embed)


@dataclass
class LinkRewrite:
    """The result of rewriting one page's links: its new text and the titles it links to."""

    text: str
    links: list[str]


def rewrite_links(
    text: str,
    from_path: str,
    index: PageIndex,
    title_of: Callable[[str], str],
) -> LinkRewrite:
    """Replace every ``[[link]]`` outside code fences with the text a reader sees.

    ``title_of(path)`` gives a page's title. Embedded files that are not pages (images, PDFs)
    are dropped; a link to a page that does not exist keeps its written name. Lines are never
    added or removed, so line numbers in citations stay right.
    """
    links: list[str] = []

    def exists(name: str) -> bool:
        return index.resolve(name, from_path) is not None

    def replace(match: re.Match[str]) -> str:
        link = WikiLink.parse(match.group(2), bool(match.group(1)), exists)
        if not link.page:  # [[#Section]] points into the same page
            return link.alias or link.section
        path = index.resolve(link.page, from_path)
        is_file = "." in posixpath.basename(link.page) and not link.page.lower().endswith(MARKDOWN_SUFFIXES)
        if link.embed and path is None and is_file:
            return ""
        title = title_of(path) if path is not None else posixpath.basename(_strip_suffix(link.page))
        if title not in links:
            links.append(title)
        if link.alias:
            return link.alias
        return f"{title} > {link.section}" if link.section else title

    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            out.append(line)
        elif opening:
            fence = opening.group(1)
            out.append(line)
        else:
            out.append(WIKILINK.sub(replace, line))
    return LinkRewrite(text="\n".join(out), links=links)
