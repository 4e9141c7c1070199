"""Confluence's storage format (XHTML with ``ac:`` macros and ``ri:`` resources) as sectioned text.

The macros are first rewritten into plain HTML — a code block keeps its code, a panel keeps
its text, a link becomes the linked page's title, images and navigation macros disappear —
and the result goes through the shared HTML parser, so headings become heading paths exactly
as they do for an HTML file.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import Tag

from orgkb.connectors.base import Section
from orgkb.connectors.formats import html

# Macros whose whole output is navigation, embedded media or live data from elsewhere.
_DROPPED_MACROS = frozenset(
    {
        "toc", "toc-zone", "children", "attachments", "recently-updated", "contentbylabel", "pagetree",
        "pagetreesearch", "livesearch", "search", "anchor", "jira", "jiraissues", "gallery", "viewfile",
        "view-file", "multimedia", "widget", "profile", "blog-posts", "create-from-template", "include",
        "excerpt-include", "roadmap", "chart", "spaces", "space-details", "index", "popular-labels",
    }
)  # fmt: skip
_DROPPED_ELEMENTS = frozenset({"ac:image", "ac:emoticon", "ac:placeholder", "ac:adf-attribute", "ac:adf-fallback"})
# Parts of a macro, link or task that their parent element handles.
_PARTS = frozenset(
    {
        "ac:parameter", "ac:plain-text-body", "ac:rich-text-body", "ac:link-body", "ac:plain-text-link-body",
        "ac:task-body", "ac:task-id", "ac:task-status", "ac:task-uuid",
    }
)  # fmt: skip
_NOT_ANCHOR = re.compile(r"[^\w-]+")


def storage_sections(storage: str, title: str, anchor_style: str) -> list[Section]:
    """Sections of a page body in storage format, with an anchor per heading.

    ``anchor_style`` is ``"cloud"`` (``#Heading-text``) or ``"datacenter"``
    (``#PageTitle-Headingtext``), the heading ids each deployment gives its pages.
    """
    parsed = html.parse(storage_to_html(storage), "page.html")
    sections = []
    for section in parsed.sections:
        anchor = heading_anchor(title, section.heading_path[-1], anchor_style) if section.heading_path else None
        # Line numbers of the rewritten XHTML mean nothing to a reader of the web page.
        sections.append(section.model_copy(update={"line_start": None, "anchor": anchor}))
    return sections


def heading_anchor(title: str, heading: str, style: str) -> str:
    """The fragment Confluence gives a heading's id."""
    if style == "datacenter":
        return f"{_NOT_ANCHOR.sub('', title)}-{_NOT_ANCHOR.sub('', heading)}"
    return _NOT_ANCHOR.sub("-", heading).strip("-")


def storage_to_html(storage: str) -> str:
    """Rewrite the ``ac:``/``ri:`` elements of a storage-format body into plain HTML."""
    soup = BeautifulSoup(storage, "html.parser")
    elements = soup.find_all(lambda tag: tag.name.startswith(("ac:", "ri:")) or tag.name == "time")
    # Innermost first, so a macro inside a panel is rewritten before the panel moves it.
    for tag in reversed(elements):
        if tag.name in _PARTS or tag.name.startswith("ri:") or _detached(tag, soup):
            continue
        if tag.name in _DROPPED_ELEMENTS:
            tag.decompose()
        elif tag.name in ("ac:structured-macro", "ac:macro"):
            _rewrite_macro(tag, soup)
        elif tag.name == "ac:link":
            _rewrite_link(tag, soup)
        elif tag.name == "ac:task-list":
            tag.name = "ul"
        elif tag.name == "ac:task":
            body = tag.find("ac:task-body")
            item = soup.new_tag("li")
            if isinstance(body, Tag):
                item.extend(list(body.contents))
            tag.replace_with(item)
        elif tag.name == "time":
            if not tag.get_text(strip=True) and tag.get("datetime"):
                tag.string = str(tag["datetime"])
        else:  # layouts, inline comment markers, ADF wrappers: keep what they contain
            tag.unwrap()
    for leftover in soup.find_all(lambda tag: tag.name.startswith(("ac:", "ri:"))):
        if not _detached(leftover, soup):
            leftover.decompose()
    return str(soup)


def _detached(tag: Tag, soup: BeautifulSoup) -> bool:
    """Whether ``tag`` was removed with an ancestor already."""
    return tag.decomposed or not any(parent is soup for parent in tag.parents)


def _parameter(macro: Tag, name: str) -> str:
    for parameter in macro.find_all("ac:parameter", recursive=False):
        if parameter.get("ac:name") == name:
            return parameter.get_text(" ", strip=True)
    return ""


def _rewrite_macro(macro: Tag, soup: BeautifulSoup) -> None:
    name = str(macro.get("ac:name", "")).lower()
    plain = macro.find("ac:plain-text-body", recursive=False)
    rich = macro.find("ac:rich-text-body", recursive=False)
    if name in _DROPPED_MACROS:
        macro.decompose()
    elif isinstance(plain, Tag):  # code, noformat: the text exactly as written
        block = soup.new_tag("pre")
        block.string = plain.get_text()
        macro.replace_with(block)
    elif isinstance(rich, Tag):  # info, note, panel, expand, ...: the text inside, under its title
        block = soup.new_tag("div")
        title = _parameter(macro, "title")
        if title:
            heading = soup.new_tag("p")
            heading.string = title
            block.append(heading)
        block.extend(list(rich.contents))
        macro.replace_with(block)
    elif name == "status":  # a coloured lozenge whose words matter ("DONE", "DRAFT")
        label = soup.new_tag("span")
        label.string = _parameter(macro, "title")
        macro.replace_with(label)
    else:
        macro.decompose()


def _rewrite_link(link: Tag, soup: BeautifulSoup) -> None:
    """A link reads as its own text, else as what it points to: a page's title, a file's name."""
    text = ""
    body = link.find(["ac:link-body", "ac:plain-text-link-body"])
    if isinstance(body, Tag):
        text = body.get_text()
    if not text.strip():
        target = link.find(lambda tag: tag.name.startswith("ri:"))
        if isinstance(target, Tag):
            text = str(
                target.get("ri:content-title") or target.get("ri:filename") or target.get("ri:space-key") or ""
            )
        text = text or str(link.get("ac:anchor", ""))
    span = soup.new_tag("span")
    span.string = text
    link.replace_with(span)
