"""A DokuWiki (`type = "dokuwiki"`) through its XML-RPC API (``lib/exe/xmlrpc.php``).

Pages are rendered by the wiki (``wiki.getPageHTML``), so plugins and syntax come out as
readers see them and headings keep DokuWiki's own anchors. Incremental sync reads
``wiki.getRecentChanges``: a page whose file is gone (size 0 or false) was deleted. DokuWiki
trims that log to ``recent_days`` (7 by default); after a longer pause the connector says so
(`CursorExpired`) and the indexer runs a full sync instead.

Who may read each page comes from the wiki's ACLs (`orgkb.connectors.dokuwiki_acl`), read once
a sync: through ``plugin.acl.listAcls`` when the account is a DokuWiki superuser, else from
``acl_file`` (the wiki's ``conf/acl.auth.php``, for a wiki on this host); without either, pages
are readable by orgkb's administrators only. An ACL edit changes no page revision, so the
sync cursor carries the ACLs' fingerprint: when they changed, the next sync lists every page
again (loading none whose revision is the same) to record the new permissions.
"""

from __future__ import annotations

import xmlrpc.client
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from xml.parsers.expat import ExpatError

from pydantic import Field, ValidationInfo, field_validator

from orgkb.connectors.base import (
    BaseConnector,
    ConnectorType,
    Change,
    ConnectorError,
    CredentialsError,
    CursorExpired,
    Document,
    DocumentError,
    DocumentRef,
    Failure,
    Section,
    SourceConfig,
)
from orgkb.connectors.dokuwiki_acl import AclTable
from orgkb.connectors.http import HttpAuthError, HttpStatusError
from orgkb.connectors.permission_cursor import fingerprint, position_of, with_permissions
from orgkb.connectors.permissions import Permissions
from orgkb.connectors.wiki import SessionExpired, WikiConfig, WikiSession, rendered_sections, site_root, wiki_http, wiki_password

log = logging.getLogger(__name__)

ENTRY_POINTS = ("doku.php", "lib/exe/xmlrpc.php")
# getRecentChanges is asked from a little before the cursor: a save stamped just before the
# last sync may have become visible just after it.
OVERLAP_SECONDS = 120
_NO_CHANGES = 321
_PAGE_MISSING = 121
_API_DISABLED = (-32604, -32605)
# Footnote markers and edit buttons are not content.
_FURNITURE = ("a.fn_top", "a.fn_bot", ".secedit")


class DokuWikiConfig(WikiConfig):
    """A DokuWiki with its XML-RPC API enabled (``remote`` on, the account in ``remoteuser``)."""

    type: Literal["dokuwiki"] = "dokuwiki"
    namespaces: list[str] = Field(
        default_factory=list, description="Namespaces to index ('it', 'hr:policies'); default: the whole wiki."
    )
    recent_days: int = Field(
        default=7, ge=1, description="The wiki's recent_days setting: how far back its change log reaches."
    )
    acl_file: Path | None = Field(
        default=None,
        description="The wiki's conf/acl.auth.php, read instead of asking the API (which lists ACLs to "
        "superusers only), for a wiki on this host.",
    )

    @field_validator("acl_file", mode="before")
    @classmethod
    def _resolve_acl_file(cls, value: str | Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else SourceConfig.resolve_path(value, info)


class RpcFault(ConnectorError):
    """An XML-RPC fault from the wiki; ``code`` is DokuWiki's error number."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ApiForbidden(CredentialsError):
    """Logged in, but this account may not call the method (or read the page)."""


class DokuWikiRpc:
    """XML-RPC calls over `HttpClient` (retries, timeouts) with a cookie login session."""

    def __init__(self, config: DokuWikiConfig) -> None:
        self.config = config
        self.source = config.name
        self.root = site_root(config.url, ENTRY_POINTS)
        self.endpoint = f"{self.root}/lib/exe/xmlrpc.php"
        self.http = wiki_http(config, self.root)
        self.session = WikiSession(self._login)

    def call(self, method: str, *args: Any) -> Any:
        """Call ``method`` logged in (logging in again once if the session expired)."""
        return self.session.call(lambda: self._request(method, args))

    def _request(self, method: str, args: tuple[Any, ...]) -> Any:
        body = xmlrpc.client.dumps(args, method, encoding="utf-8").encode("utf-8")
        try:
            response = self.http.post(self.endpoint, content=body, headers={"Content-Type": "text/xml"})
        except HttpAuthError as exc:
            # DokuWiki answers a refused call with 401/403 *and* a fault saying why.
            raise self._refused(method, exc.status, _fault_in(exc.response.content)) from exc
        except HttpStatusError as exc:
            if exc.status == 404:
                raise ConnectorError(
                    f"{self.source}: no DokuWiki XML-RPC API at {self.endpoint} (HTTP 404): set url to the wiki's address"
                ) from exc
            raise
        try:
            # DokuWiki writes dates as 2024-05-01T12:00:00+00:00, which builtin datetimes reject.
            (result,), _ = xmlrpc.client.loads(response.content)
        except xmlrpc.client.Fault as fault:
            raise self._fault(fault) from None
        except (ExpatError, xmlrpc.client.ResponseError, ValueError):
            raise ConnectorError(
                f"{self.source}: {self.endpoint} did not answer with XML-RPC: is url the address of a DokuWiki?"
            ) from None
        return result

    def _fault(self, fault: xmlrpc.client.Fault) -> ConnectorError:
        code, text = int(fault.faultCode), str(fault.faultString)
        if code in _API_DISABLED or "not enabled" in text:
            return ConnectorError(
                f"{self.source}: the wiki's XML-RPC API is switched off: an admin must enable 'remote' "
                "(and list this account in 'remoteuser') in DokuWiki's configuration"
            )
        return RpcFault(f"{self.source}: the wiki refused a call: {text} (fault {code})", code)

    def _refused(self, method: str, status: int, fault: xmlrpc.client.Fault | None) -> ConnectorError:
        if fault is not None and (int(fault.faultCode) == -32605 or "not enabled" in str(fault.faultString)):
            return self._fault(fault)
        if status == 401:
            if self.config.username:
                return SessionExpired(f"{self.source}: the wiki no longer accepts the login session")
            return CredentialsError(
                f"{self.source}: the wiki's API needs a login: set username and password_env for this source"
            )
        return ApiForbidden(
            f"{self.source}: the account {self.config.username!r} may not call {method}: add it to DokuWiki's "
            "'remoteuser' setting and give it read access (ACL)"
        )

    def _login(self) -> None:
        password = wiki_password(self.config)
        if not self.config.username or password is None:
            return
        if not self._request("dokuwiki.login", (self.config.username, password)):
            raise CredentialsError(
                f"{self.source}: login as {self.config.username!r} failed: wrong username or password "
                f"(the password is read from ${self.config.password_env})"
            )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


class DokuWikiConnector(BaseConnector):
    """Indexes every page of the configured namespaces."""

    def __init__(self, config: DokuWikiConfig) -> None:
        self.config = config
        self.rpc = DokuWikiRpc(config)
        # The ACLs, read once per sync (a connector lives for one sync); a str says why not.
        self._acl: AclTable | str | None = None

    def close(self) -> None:
        """End the wiki session (its HTTP connections)."""
        self.rpc.close()

    def check(self) -> list[str]:
        self.rpc.call("dokuwiki.getTime")
        warnings = []
        for namespace in self.config.namespaces or [""]:
            if not self.rpc.call("dokuwiki.getPagelist", namespace, {"depth": 0}):
                where = f"namespace {namespace!r}" if namespace else "the wiki"
                warnings.append(f"{where} has no pages this account can read")
        acl = self.acl()
        if isinstance(acl, str) and self.config.allow is None:
            warnings.append(f"{acl}: its pages will be shown to orgkb's administrators only")
        return warnings

    def acl(self) -> AclTable | str:
        """The wiki's ACL rules, or why they cannot be read."""
        if self._acl is None:
            self._acl = self._read_acl()
        return self._acl

    def permissions(self, page_id: str) -> Permissions:
        """Who may read ``page_id`` under the wiki's ACLs."""
        acl = self.acl()
        return Permissions.nobody(f"dokuwiki acl: {acl}") if isinstance(acl, str) else acl.permissions(page_id)

    def _read_acl(self) -> AclTable | str:
        path = self.config.acl_file
        if path is not None:
            try:
                return AclTable.parse(path.read_text(encoding="utf-8"))
            except OSError as exc:
                log.warning("%s: cannot read acl_file %s: %s", self.config.name, path, exc.strerror or exc)
                return f"cannot read acl_file {path}: {exc.strerror or exc}"
        try:
            return AclTable.from_api(self.rpc.call("plugin.acl.listAcls"))
        except (CredentialsError, SessionExpired, RpcFault) as exc:  # refused: 403 logged in, 401 anonymous
            log.info("%s: ACLs not readable through the API: %s", self.config.name, exc)
            return (
                f"the ACLs cannot be read: plugin.acl.listAcls needs a DokuWiki superuser and "
                f"{self.config.username or 'the anonymous visitor'} is none (or set acl_file)"
            )

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        seen: set[str] = set()
        for namespace in self.config.namespaces or [""]:
            for item in self.rpc.call("dokuwiki.getPagelist", namespace, {"depth": 0}):
                page_id = str(item["id"])
                if page_id not in seen:
                    seen.add(page_id)
                    yield DocumentRef(key=page_id, version=str(item["rev"]), permissions=self.permissions(page_id))

    def load(self, ref: DocumentRef) -> Document:
        try:
            info = self.rpc.call("wiki.getPageInfo", ref.key)
            html = self.rpc.call("wiki.getPageHTML", ref.key)
        except ApiForbidden as exc:
            raise DocumentError(f"not allowed to read this page: {exc}") from exc
        except RpcFault as exc:
            if exc.code == _PAGE_MISSING:
                raise DocumentError("the page no longer exists") from exc
            raise
        sections = rendered_sections(str(html), _FURNITURE)
        headings = [s.heading_path[0] for s in sections if s.heading_path]
        version = int(info["version"])
        namespace, _, name = ref.key.rpartition(":")
        metadata: dict[str, str | int | float | bool] = {"namespace": namespace or "(root)"}
        if info.get("author"):
            metadata["last_editor"] = str(info["author"])
        return Document(
            source=self.config.name,
            key=ref.key,
            title=headings[0] if headings else name.replace("_", " "),
            uri=f"{self.rpc.root}/doku.php?id={quote(ref.key, safe=':')}",
            sections=sections or [Section(text=name)],
            metadata=metadata,
            modified=datetime.fromtimestamp(version, tz=UTC),
            mime_type="text/x-wiki",
            version=str(version),
            permissions=self.permissions(ref.key),
        )

    def initial_cursor(self) -> str:
        return self._cursor(int(self.rpc.call("dokuwiki.getTime")))

    def _cursor(self, now: int) -> str:
        """The wiki's time and the fingerprint of its ACLs (an ACL edit leaves no change log entry)."""
        return with_permissions(str(now), self._acl_fingerprint())

    def _acl_fingerprint(self) -> str:
        acl = self.acl()
        return "unreadable" if isinstance(acl, str) else fingerprint(acl.rules)

    def changes_since(self, cursor: str) -> Change:
        now = int(self.rpc.call("dokuwiki.getTime"))
        since = int(position_of(cursor, self._acl_fingerprint(), self.config.name))
        if now - since > self.config.recent_days * 86400 - 3600:
            raise CursorExpired(
                f"{self.config.name}: the last sync is older than the wiki's change log ({self.config.recent_days} days)"
            )
        # getRecentChanges wants a 10-digit timestamp (anything since 2001 is fine).
        start = max(since - OVERLAP_SECONDS, 1_000_000_000)
        try:
            changes = self.rpc.call("wiki.getRecentChanges", start)
        except RpcFault as exc:
            if exc.code != _NO_CHANGES:
                raise
            changes = []
        updated: list[DocumentRef] = []
        deleted: list[str] = []
        for change in changes:
            page_id = str(change["name"])
            if not self._wanted(page_id):
                continue
            # One entry per page, its latest change; a deleted page's file is gone (size false/0).
            if change.get("size"):
                updated.append(DocumentRef(key=page_id, version=str(change["version"]), permissions=self.permissions(page_id)))
            else:
                deleted.append(page_id)
        return Change(updated=updated, deleted=deleted, cursor=self._cursor(now))

    def _wanted(self, page_id: str) -> bool:
        namespaces = self.config.namespaces
        return not namespaces or any(ns == "" or page_id.startswith(ns.strip(":") + ":") for ns in namespaces)


def _fault_in(body: bytes) -> xmlrpc.client.Fault | None:
    """The fault an XML-RPC error response carries, if it is one."""
    try:
        xmlrpc.client.loads(body)
    except xmlrpc.client.Fault as fault:
        return fault
    except Exception:  # noqa: BLE001 - not XML-RPC at all: the caller reports the HTTP status
        return None
    return None


CONNECTOR = ConnectorType(type="dokuwiki", config_model=DokuWikiConfig, factory=DokuWikiConnector, description="A DokuWiki, through its XML-RPC API.")
