"""A live MediaWiki (`type = "mediawiki"`) through its Action API.

Pages are rendered by the wiki itself (``action=parse``), so templates are expanded exactly as
readers see them and section anchors are the wiki's own. Incremental sync reads what changed
since the cursor from the revision list (edits, new pages) and the log (deletions, restores,
moves, imports), then asks the wiki for the current state of every page touched: a page that
is gone, or is now a redirect, is deleted from the index. Both lists are permanent, unlike
``recentchanges``, which the wiki prunes after ``$wgRCMaxAge`` (90 days by default) and which
``importDump.php`` does not fill.

Who may read the pages: the groups holding the ``read`` right (`orgkb.connectors.mediawiki.
permissions`), read once a sync; the cursor carries their fingerprint, so a change of
``LocalSettings.php`` (which no revision records) makes the next sync list every page again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from orgkb.connectors.base import (
    BaseConnector,
    ConnectorType,
    Change,
    Document,
    DocumentError,
    DocumentRef,
    Failure,
)
from orgkb.connectors.mediawiki.api import ApiError, MediaWikiApi
from orgkb.connectors.mediawiki.permissions import wiki_readers
from orgkb.connectors.mediawiki.pages import (
    NAMESPACES_FIELD,
    NamespaceList,
    SiteNamespaces,
    page_document,
    parse_timestamp,
)
from orgkb.connectors.permission_cursor import fingerprint, position_of, with_permissions
from orgkb.connectors.permissions import Permissions
from orgkb.connectors.wiki import WikiConfig, rendered_sections

# Re-read a little before the cursor: a revision is stamped when its save starts and becomes
# visible when the save commits, so one stamped just before the last sync may have been missed.
OVERLAP = timedelta(minutes=2)
_TITLES_PER_REQUEST = 50
# Parts of a rendered page that are not its content.
_FURNITURE = (
    ".mw-editsection", "#toc", ".toc", "sup.reference", ".mw-cite-backlink", ".navbox", ".noprint",
    ".mw-empty-elt", ".catlinks", ".mw-jump-link", ".printfooter", "link", "meta",
)  # fmt: skip


class MediaWikiConfig(WikiConfig):
    """A live MediaWiki; for a private one, a bot password (``User@bot``) and its env var."""

    type: Literal["mediawiki"] = "mediawiki"
    namespaces: NamespaceList = NAMESPACES_FIELD


class MediaWikiConnector(BaseConnector):
    """Indexes the current revision of every page in the configured namespaces."""

    def __init__(self, config: MediaWikiConfig) -> None:
        self.config = config
        self.api = MediaWikiApi(config)
        self._namespace_ids: list[int] | None = None
        self._readers: Permissions | None = None

    def close(self) -> None:
        """End the wiki session (its HTTP connections)."""
        self.api.close()

    # --- the Connector protocol ----------------------------------------------------------

    def check(self) -> list[str]:
        warnings = []
        for number in self.namespace_ids():
            batch = next(iter(self.api.query({"list": "allpages", "apnamespace": number, "aplimit": 1})), {})
            if not batch.get("allpages"):
                warnings.append(f"namespace {number} has no pages this account can read")
        readers = self.readers()
        if not readers.principals and self.config.allow is None:
            warnings.append(f"{readers.rule}: its pages will be shown to orgkb's administrators only")
        return warnings

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        for number in self.namespace_ids():
            params = {
                "generator": "allpages",
                "gapnamespace": number,
                "gapfilterredir": "nonredirects",
                "gaplimit": "max",
                "prop": "info",
            }
            for batch in self.api.query(params):
                for page in batch.get("pages", []):
                    yield DocumentRef(key=page["title"], version=str(page["lastrevid"]), permissions=self.readers())

    def load(self, ref: DocumentRef) -> Document:
        try:
            parsed = self.api.call(
                {
                    "action": "parse",
                    "page": ref.key,
                    "prop": "text|categories|revid",
                    "disableeditsection": 1,
                    "disabletoc": 1,
                    "disablelimitreport": 1,
                }
            )["parse"]
            info = self._page_info(ref.key)
        except ApiError as exc:
            # The page went away or became unreadable since it was listed: keep the indexed copy.
            raise DocumentError(str(exc)) from exc
        revision = (info.get("revisions") or [{}])[0]
        categories = [c["category"].replace("_", " ") for c in parsed.get("categories", []) if not c.get("hidden")]
        return page_document(
            source=self.config.name,
            title=parsed["title"],
            url=info["fullurl"],
            sections=rendered_sections(parsed["text"], _FURNITURE),
            revision=parsed["revid"],
            categories=categories,
            editor=revision.get("user"),
            modified=parse_timestamp(revision.get("timestamp")),
            namespace=self._namespace_name(info.get("ns", 0)),
        ).model_copy(update={"permissions": self.readers()})

    # --- incremental sync ---------------------------------------------------------------

    def initial_cursor(self) -> str:
        return with_permissions(self.api.server_time(), fingerprint(self.readers().model_dump()))

    def changes_since(self, cursor: str) -> Change:
        now = self.initial_cursor()
        start = parse_timestamp(position_of(cursor, fingerprint(self.readers().model_dump()), self.config.name))
        if start is None:
            raise ValueError(f"not a cursor: {cursor!r}")
        since = (start - OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")
        namespaces = self.namespace_ids()
        touched: dict[str, None] = {}
        revisions = {
            "list": "allrevisions",
            "arvstart": since,
            "arvdir": "newer",
            "arvprop": "ids",
            "arvnamespace": "|".join(map(str, namespaces)),
            "arvlimit": "max",
        }
        for batch in self.api.query(revisions):
            for page in batch.get("allrevisions", []):
                touched[page["title"]] = None
        # Every kind of log event can change what a page is: delete, restore, move, import, merge.
        log = {"list": "logevents", "lestart": since, "ledir": "newer", "leprop": "title|type|details", "lelimit": "max"}
        for batch in self.api.query(log):
            for event in batch.get("logevents", []):
                if event.get("ns") in namespaces and event.get("title"):
                    touched[event["title"]] = None
                target = (event.get("params") or {}).get("target_title")
                if target:
                    touched[target] = None
        updated, deleted = self._current_state(list(touched), namespaces)
        return Change(updated=updated, deleted=deleted, cursor=now)

    def _current_state(self, titles: list[str], namespaces: list[int]) -> tuple[list[DocumentRef], list[str]]:
        """Refs for the titles that are pages now, and the titles that are gone or redirects."""
        updated: list[DocumentRef] = []
        deleted: list[str] = []
        for offset in range(0, len(titles), _TITLES_PER_REQUEST):
            chunk = titles[offset : offset + _TITLES_PER_REQUEST]
            body = self.api.call({"action": "query", "titles": "|".join(chunk), "prop": "info"})
            for page in body.get("query", {}).get("pages", []):
                if page.get("invalid") or page.get("ns") not in namespaces:
                    continue
                if page.get("missing") or page.get("redirect"):
                    deleted.append(page["title"])
                else:
                    updated.append(DocumentRef(key=page["title"], version=str(page["lastrevid"]), permissions=self.readers()))
        return updated, deleted

    # --- helpers ------------------------------------------------------------------------

    def readers(self) -> Permissions:
        """Who may read the wiki's pages (asked once per sync: a connector lives for one)."""
        if self._readers is None:
            self._readers = wiki_readers(self.api)
        return self._readers

    def namespace_ids(self) -> list[int]:
        """The configured namespaces as numbers (names resolved through the wiki's siteinfo)."""
        if self._namespace_ids is None:
            self._namespace_ids = self._site_namespaces().resolve(self.config.namespaces, self.config.name)
        return self._namespace_ids

    def _site_namespaces(self) -> SiteNamespaces:
        info = self.api.siteinfo()
        names: dict[int, set[str]] = {}
        for entry in _as_list(info.get("namespaces")):
            number = int(entry["id"])
            names.setdefault(number, set()).update(
                n.lower() for n in (entry.get("name"), entry.get("canonical")) if n
            )
        for alias in _as_list(info.get("namespacealiases")):
            names.setdefault(int(alias["id"]), set()).add(str(alias["alias"]).lower())
        return SiteNamespaces(names)

    def _namespace_name(self, number: int) -> str:
        for entry in _as_list(self.api.siteinfo().get("namespaces")):
            if int(entry["id"]) == number:
                return str(entry.get("name") or "")
        return ""

    def _page_info(self, title: str) -> dict[str, Any]:
        body = self.api.call(
            {"action": "query", "titles": title, "prop": "info|revisions", "inprop": "url", "rvprop": "user|timestamp"}
        )
        pages = body.get("query", {}).get("pages", [])
        if not pages or pages[0].get("missing"):
            raise DocumentError(f"page {title!r} no longer exists")
        return dict(pages[0])


def _as_list(value: Any) -> list[dict[str, Any]]:
    """Siteinfo lists are objects keyed by id in some formats and lists in others."""
    if isinstance(value, dict):
        return list(value.values())
    return list(value or [])


CONNECTOR = ConnectorType(type="mediawiki", config_model=MediaWikiConfig, factory=MediaWikiConnector, description="A MediaWiki site, through its Action API.")
