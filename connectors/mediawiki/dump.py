"""A MediaWiki XML dump (`type = "mediawiki_dump"`): a wiki indexed without its server.

Reads the export format of ``dumpBackup.php`` and Special:Export (Wikipedia's dumps too), as a
stream: memory stays bounded however large the dump, and a history dump's older revisions are
dropped as they are read. Pages render from wikitext (`connectors.wikitext`) and get the same
keys, URLs and anchors as the live-wiki connector would give them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from orgkb.connectors.base import (
    BaseConnector,
    ConnectorType,
    ConnectorError,
    Document,
    DocumentError,
    DocumentRef,
    Failure,
    Section,
    SourceConfig,
)
from orgkb.connectors.mediawiki.pages import (
    NAMESPACES_FIELD,
    NamespaceList,
    SiteNamespaces,
    page_document,
    page_url,
    parse_timestamp,
)
from orgkb.connectors.mediawiki.wikitext import DEFAULT_CATEGORY_NAMES, DEFAULT_FILE_NAMES, render_wikitext

_CATEGORY_NS = 14
_FILE_NAMESPACES = (6, -2)


class MediaWikiDumpConfig(SourceConfig):
    """An XML dump file of a MediaWiki."""

    type: Literal["mediawiki_dump"] = "mediawiki_dump"
    path: Path = Field(description="The dump file (.xml); relative to the config file.")
    page_url: str | None = Field(
        default=None,
        description="Page address pattern with $1 for the title (https://wiki.example/wiki/$1); "
        "default: from the dump's <base>.",
    )
    namespaces: NamespaceList = NAMESPACES_FIELD

    @field_validator("path", mode="after")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return SourceConfig.resolve_path(value, info)


class DumpSite(BaseModel):
    """The dump's ``<siteinfo>``: where its pages live and what its namespaces are called."""

    base: str = ""
    namespaces: dict[int, str] = Field(default_factory=dict)


class DumpPage(BaseModel):
    """One page's current revision as read from the dump."""

    title: str
    ns: int
    revision: str
    timestamp: str | None = None
    editor: str | None = None
    model: str = "wikitext"
    text: str = ""


class MediaWikiDumpConnector(BaseConnector):
    """Indexes the latest revision of each page of an XML dump."""

    def __init__(self, config: MediaWikiDumpConfig) -> None:
        self.config = config
        self.site = DumpSite()
        # The page the listing just yielded: the indexer loads it before asking for the next
        # one, so it is rendered from memory instead of reading the dump again.
        self._current: DumpPage | None = None

    def check(self) -> list[str]:
        path = self.config.path
        try:
            with path.open("rb") as handle:
                head = handle.read(4096)
        except OSError as exc:
            raise ConnectorError(f"{self.config.name}: cannot read the dump {path}: {exc.strerror or exc}") from exc
        if b"<mediawiki" not in head:
            raise ConnectorError(f"{self.config.name}: {path} is not a MediaWiki XML dump (no <mediawiki> element)")
        return []

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        self.check()
        wanted: list[int] | None = None
        for page in self._pages():
            if wanted is None:
                wanted = self._namespaces().resolve(self.config.namespaces, self.config.name)
            if page.ns not in wanted:
                continue
            self._current = page
            yield DocumentRef(key=page.title, version=page.revision)
        self._current = None

    def load(self, ref: DocumentRef) -> Document:
        page = self._current if self._current is not None and self._current.title == ref.key else None
        if page is None:
            page = next((p for p in self._pages() if p.title == ref.key), None)
        if page is None:
            raise DocumentError(f"page {ref.key!r} is not in the dump")
        return self._document(page)

    # --- reading the dump ---------------------------------------------------------------

    def _pages(self) -> Iterator[DumpPage]:
        """Every non-redirect page with its latest revision, streamed."""
        path = self.config.path
        root: ET.Element | None = None
        latest: DumpPage | None = None
        redirect = False
        try:
            for event, element in ET.iterparse(path, events=("start", "end")):
                tag = element.tag.rsplit("}", 1)[-1]
                if event == "start":
                    if root is None:
                        root = element
                    elif tag == "page":
                        latest, redirect = None, False
                    continue
                if tag == "siteinfo":
                    self.site = _site(element)
                elif tag == "redirect":
                    redirect = True
                elif tag == "revision":
                    latest = _newer(latest, element)
                    element.clear()  # a history dump's old revisions are dropped as they are read
                elif tag == "page":
                    page = _page(element, latest) if not redirect else None
                    if root is not None:
                        root.clear()  # keeps memory bounded: nothing of earlier pages stays
                    if page is not None:
                        yield page
        except ET.ParseError as exc:
            raise ConnectorError(
                f"{self.config.name}: {path} is not a complete MediaWiki XML dump ({exc}); nothing was removed from the index"
            ) from exc
        except OSError as exc:
            raise ConnectorError(f"{self.config.name}: cannot read the dump {path}: {exc.strerror or exc}") from exc

    def _namespaces(self) -> SiteNamespaces:
        return SiteNamespaces({number: {name.lower()} if name else set() for number, name in self.site.namespaces.items()})

    def _document(self, page: DumpPage) -> Document:
        names = self.site.namespaces
        if page.model == "wikitext":
            rendered = render_wikitext(
                page.text,
                category_names=DEFAULT_CATEGORY_NAMES | {names.get(_CATEGORY_NS, "").lower()},
                file_names=DEFAULT_FILE_NAMES | {names.get(n, "").lower() for n in _FILE_NAMESPACES},
            )
            sections, categories = rendered.sections, rendered.categories
        else:
            sections, categories = [Section(text=page.text)], []
        return page_document(
            source=self.config.name,
            title=page.title,
            url=page_url(self._article_path(), page.title),
            sections=sections,
            revision=page.revision,
            categories=categories,
            editor=page.editor,
            modified=parse_timestamp(page.timestamp),
            namespace=names.get(page.ns, ""),
        )

    def _article_path(self) -> str:
        if self.config.page_url:
            return self.config.page_url
        base = self.site.base
        if not base:
            return self.config.path.as_uri() + "#"
        # <base> is the main page's address: everything before its title is the article path.
        if "title=" in base:
            return base[: base.index("title=") + len("title=")] + "$1"
        return base.rsplit("/", 1)[0] + "/$1"


def _site(element: ET.Element) -> DumpSite:
    namespaces: dict[int, str] = {}
    base = ""
    for child in element.iter():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "base":
            base = (child.text or "").strip()
        elif tag == "namespace":
            namespaces[int(child.get("key", "0"))] = (child.text or "").strip()
    return DumpSite(base=base, namespaces=namespaces)


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if child.tag.rsplit("}", 1)[-1] == name:
            return child.text
    return None


def _newer(latest: DumpPage | None, revision: ET.Element) -> DumpPage:
    """The later of the revision kept so far and this one (dumps list oldest first, usually)."""
    timestamp = _child_text(revision, "timestamp")
    if latest is not None and latest.timestamp and timestamp and timestamp < latest.timestamp:
        return latest
    editor = None
    for child in revision:
        if child.tag.rsplit("}", 1)[-1] == "contributor":
            editor = _child_text(child, "username") or _child_text(child, "ip")
    return DumpPage(
        title="",
        ns=0,
        revision=_child_text(revision, "id") or "",
        timestamp=timestamp,
        editor=editor,
        model=_child_text(revision, "model") or "wikitext",
        text=_revision_text(revision),
    )


def _revision_text(revision: ET.Element) -> str:
    """The wikitext; ``itertext`` also keeps text a hand-made export left as unescaped tags."""
    for child in revision:
        if child.tag.rsplit("}", 1)[-1] == "text":
            return "".join(child.itertext())
    return ""


def _page(element: ET.Element, latest: DumpPage | None) -> DumpPage | None:
    title = _child_text(element, "title")
    if latest is None or not title:
        return None
    return latest.model_copy(update={"title": title, "ns": int(_child_text(element, "ns") or 0)})


CONNECTOR = ConnectorType(type="mediawiki_dump", config_model=MediaWikiDumpConfig, factory=MediaWikiDumpConnector, description="A MediaWiki XML dump file (no server needed).")
