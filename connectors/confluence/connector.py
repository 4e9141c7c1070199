"""Confluence (`type = "confluence"`): the pages of configured spaces, Cloud or Data Center.

Talks to the REST API (``/rest/api/content``) through the shared `HttpClient`. Cloud
authenticates with an account's email and an API token (HTTP basic); Data Center with a
personal access token (``Authorization: Bearer``). A full listing reads every page of each
space with its body; an incremental sync lists every page's version and permissions without
bodies (a restriction changes no version, and CQL cannot find such changes) and each space's
trash for deleted pages; only pages with a new version are loaded. A page deleted for good
(purged from the trash) or moved to a space that is not configured leaves the index at the
next full reconcile. Who may read each page: see `orgkb.connectors.confluence.permissions`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from orgkb.connectors.base import (
    BaseConnector,
    ConnectorType,
    Change,
    ConnectorError,
    CredentialsError,
    Document,
    DocumentError,
    DocumentRef,
    Failure,
    MetadataValue,
    Section,
    SourceConfig,
)
from orgkb.connectors.confluence.permissions import RESTRICTION_EXPAND, PagePermissions
from orgkb.connectors.http import HttpClient, HttpStatusError, secret_from_env

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

PAGE_EXPAND = f"body.storage,version,space,ancestors,metadata.labels,history.lastUpdated,{RESTRICTION_EXPAND}"
# What a listing without bodies asks for: enough to tell a new version and who may read it.
SLIM_EXPAND = f"version,ancestors,{RESTRICTION_EXPAND}"
# Confluence caps result pages anyway (fewer with bodies expanded); the `next` link continues.
SLIM_LIMIT = 200
MAX_RESULT_PAGES = 100_000


class ConfluenceConfig(SourceConfig):
    """A Confluence site and the spaces to index from it."""

    type: Literal["confluence"] = "confluence"
    url: str = Field(description="Site URL: https://<site>.atlassian.net/wiki (Cloud) or the Data Center base URL.")
    deployment: Literal["auto", "cloud", "datacenter"] = Field(
        default="auto", description="Cloud or Data Center; auto means Cloud for *.atlassian.net."
    )
    spaces: list[str] = Field(min_length=1, description="Space keys, e.g. ENG, HR.")
    username: str | None = Field(default=None, description="Cloud: the account's email (with an API token).")
    token_env: str = Field(description="Environment variable holding the API token (Cloud) or personal access token (Data Center).")
    page_size: int = Field(default=50, ge=1, le=250, description="Pages per request when listing with bodies.")
    max_retries: int = Field(default=4, ge=0, le=10, description="Retries of a request after a transient error.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for one response.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _resolve_deployment(self) -> ConfluenceConfig:
        if self.deployment == "auto":
            host = urlsplit(self.url).hostname or ""
            self.deployment = "cloud" if host.endswith((".atlassian.net", ".jira.com")) else "datacenter"
        if self.deployment == "cloud":
            if not self.username:
                raise ValueError("Confluence Cloud needs `username` (the account's email) to go with the API token")
            if not urlsplit(self.url).path:
                self.url += "/wiki"  # Cloud serves Confluence under /wiki
        return self


class ConfluenceConnector(BaseConnector):
    """Lists, loads and tracks changes of the pages in the configured spaces."""

    def __init__(self, config: ConfluenceConfig, client: HttpClient | None = None) -> None:
        self.config = config
        self._client = client
        self._owns_client = client is None
        self._base = config.url
        # Pages of the latest listing request, so loading a listed page costs no second request.
        self._listed: dict[str, dict[str, Any]] = {}
        self._permissions: PagePermissions | None = None

    @property
    def permissions(self) -> PagePermissions:
        """What this sync has read of space permissions and restrictions (read afresh each sync)."""
        if self._permissions is None:
            self._permissions = PagePermissions(self.client.json, self._results, self.config.deployment)
        return self._permissions

    @property
    def client(self) -> HttpClient:
        """The HTTP client, built on first use (reading the token from its environment variable)."""
        if self._client is None:
            token = secret_from_env(self.config.token_env, self.config.name, "Confluence token") or ""
            auth: httpx.Auth | None = None
            headers = {"Accept": "application/json"}
            if self.config.username:
                import httpx

                auth = httpx.BasicAuth(self.config.username, token)
            else:
                headers["Authorization"] = f"Bearer {token}"
            self._client = HttpClient(
                self.config.name, self.config.url, headers=headers, auth=auth,
                timeout=self.config.timeout, retries=self.config.max_retries,
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP connections (a client passed in by the caller stays the caller's)."""
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    # --- the connector protocol -----------------------------------------------------------

    def check(self) -> list[str]:
        self._verify()
        warnings = []
        parts = urlsplit(self.config.url)
        if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            warnings.append(f"{self.config.url} is plain HTTP: the token travels unencrypted; use https")
        if self.config.allow is None:
            for space in self.config.spaces:
                problem = self.permissions.space_problem(space)
                if problem:
                    warnings.append(f"{problem}: pages without restrictions will be shown to orgkb's administrators only")
        return warnings

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        self._verify()
        self._permissions = None
        for space in self.config.spaces:
            # Restrictions of every page first: a page's ancestors may come later in the listing.
            for _ in self._slim_pages(space):
                pass
            params = {"spaceKey": space, "type": "page", "status": "current", "expand": PAGE_EXPAND, "limit": self.config.page_size}
            for results in self._results("/rest/api/content", params):
                self._listed = {str(page["id"]): page for page in results}
                for page in results:
                    yield DocumentRef(key=str(page["id"]), version=_version_of(page), permissions=self.permissions.of(page, space))
        self._listed = {}

    def load(self, ref: DocumentRef) -> Document:
        page = self._listed.get(ref.key)
        if page is None:
            try:
                page = self.client.json("GET", f"/rest/api/content/{ref.key}", params={"expand": PAGE_EXPAND})
            except HttpStatusError as exc:
                if exc.status == 404:
                    raise DocumentError("the page no longer exists or is no longer visible to this account") from exc
                raise
            self._base = page.get("_links", {}).get("base") or self._base
        return self._document(page)

    def initial_cursor(self) -> str:
        return datetime.now(UTC).isoformat()

    def changes_since(self, cursor: str) -> Change:
        started = datetime.now(UTC)
        self._verify()
        self._permissions = None
        # Every page's version and permissions: the indexer loads only pages with a new version
        # and records changed permissions of the others without loading them.
        updated: dict[str, DocumentRef] = {}
        for space in self.config.spaces:
            for results in self._slim_pages(space):
                for page in results:
                    updated[str(page["id"])] = DocumentRef(
                        key=str(page["id"]), version=_version_of(page), permissions=self.permissions.of(page, space)
                    )
        deleted: list[str] = []
        for space in self.config.spaces:
            params = {"spaceKey": space, "type": "page", "status": "trashed", "expand": "version", "limit": SLIM_LIMIT}
            for results in self._results("/rest/api/content", params):
                deleted.extend(str(page["id"]) for page in results if str(page["id"]) not in updated)
        return Change(updated=list(updated.values()), deleted=deleted, cursor=started.isoformat())

    # --- requests -------------------------------------------------------------------------

    def _slim_pages(self, space: str) -> Iterator[list[dict[str, Any]]]:
        """The current pages of ``space`` without bodies, their restrictions remembered."""
        params = {"spaceKey": space, "type": "page", "status": "current", "expand": SLIM_EXPAND, "limit": SLIM_LIMIT}
        for results in self._results("/rest/api/content", params):
            for page in results:
                self.permissions.remember(page)
            yield results

    def _verify(self) -> None:
        """Fail with one clear line unless the URL, the token and every configured space work.

        Done before every listing: Data Center answers a wrong token as an anonymous visitor
        (HTTP 200, fewer pages), and a listing that looked complete would delete the rest.
        """
        name = self.config.name
        try:
            user = self.client.json("GET", "/rest/api/user/current")
        except HttpStatusError as exc:
            if exc.status == 404:
                raise ConnectorError(
                    f"{name}: no Confluence REST API at {self.config.url} (HTTP 404): check `url` "
                    "(Cloud: https://<site>.atlassian.net/wiki; Data Center: the base URL with its context path)"
                ) from exc
            raise
        if not isinstance(user, dict) or user.get("type") == "anonymous":
            raise CredentialsError(
                f"{name}: Confluence did not accept the token in {self.config.token_env} (the request was treated "
                "as anonymous): check the token and, for Cloud, `username`"
            )
        visible = self.client.json("GET", "/rest/api/space", params={"spaceKey": self.config.spaces, "limit": len(self.config.spaces)})
        found = {str(space.get("key")) for space in visible.get("results", [])}
        missing = [key for key in self.config.spaces if key not in found]
        if missing:
            who = user.get("displayName") or user.get("email") or "this account"
            raise ConnectorError(
                f"{name}: space {', '.join(missing)} not found or not visible to {who}: "
                "check `spaces` (space keys) and the account's space permissions"
            )

    def _results(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The ``results`` of a paginated collection, one response at a time, following ``_links.next``."""
        url: str | None = path
        query: dict[str, Any] | None = params
        seen: set[str] = set()
        for _ in range(MAX_RESULT_PAGES):
            if url is None:
                return
            data = self.client.json("GET", url, params=query)
            if not isinstance(data, dict) or not isinstance(data.get("results"), list):
                raise ConnectorError(f"{self.config.name}: {path} answered without a `results` list: is `url` a Confluence site?")
            links = data.get("_links") or {}
            self._base = links.get("base") or self._base
            yield data["results"]
            url, query = links.get("next"), None
            if url in seen:
                raise ConnectorError(f"{self.config.name}: {path} returned the same next page twice; listing stopped")
            if url:
                seen.add(url)
        raise ConnectorError(f"{self.config.name}: {path} has more than {MAX_RESULT_PAGES} result pages; listing stopped")

    # --- documents ------------------------------------------------------------------------

    def _document(self, page: dict[str, Any]) -> Document:
        title = str(page.get("title") or page["id"])
        storage = ((page.get("body") or {}).get("storage") or {}).get("value") or ""
        from orgkb.connectors.confluence.storage import storage_sections  # BeautifulSoup: imported on first page

        sections = storage_sections(storage, title, self.config.deployment)
        version = page.get("version") or {}
        modified = _parse_time(version.get("when") or ((page.get("history") or {}).get("lastUpdated") or {}).get("when"))
        return Document(
            source=self.config.name,
            key=str(page["id"]),
            title=title,
            uri=self._base + str((page.get("_links") or {}).get("webui") or f"/pages/viewpage.action?pageId={page['id']}"),
            sections=sections or [Section(text="")],
            metadata=_metadata(page),
            modified=modified,
            mime_type="text/html",
            version=_version_of(page),
            permissions=self.permissions.of(page, str((page.get("space") or {}).get("key") or "")),
        )


def _metadata(page: dict[str, Any]) -> dict[str, MetadataValue]:
    """Space, labels, breadcrumb and last editor: what people filter and ask by."""
    space = page.get("space") or {}
    labels = ((page.get("metadata") or {}).get("labels") or {}).get("results") or []
    ancestors = [str(a.get("title")) for a in page.get("ancestors") or [] if a.get("title")]
    editor = ((page.get("version") or {}).get("by") or {}).get("displayName") or (
        ((page.get("history") or {}).get("lastUpdated") or {}).get("by") or {}
    ).get("displayName")
    values: dict[str, MetadataValue | None] = {
        "space": space.get("key"),
        "space_name": space.get("name"),
        "labels": ", ".join(str(label.get("name")) for label in labels if label.get("name")) or None,
        "breadcrumb": " > ".join(ancestors) or None,
        "last_modified_by": editor,
        "page_id": str(page["id"]),
    }
    return {key: value for key, value in values.items() if value is not None}


def _version_of(page: dict[str, Any]) -> str | None:
    number = (page.get("version") or {}).get("number")
    return str(number) if number is not None else None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


CONNECTOR = ConnectorType(type="confluence", config_model=ConfluenceConfig, factory=ConfluenceConnector, description="Pages of Confluence spaces (Cloud or Data Center).")
