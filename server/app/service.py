"""The application service: the one thing the MCP handlers, the CLI and extensions call.

`OrgkbService` owns the index, the searcher, live sync and the database connections. Nothing
reaches them except through a `CallerView` (`orgkb.server.app.caller`): the service bound to
one caller's `Access`, handed out by `OrgkbService.for_caller`. Every operation of the view
applies that access, so a front end cannot forget it.
"""

from __future__ import annotations

import logging
import threading

from orgkb.connectors.identifiers import document_uri
from orgkb.server.app.access import FULL_ACCESS, Access
from orgkb.server.app.caller import CallerView
from orgkb.server.app.health import HealthMonitor
from orgkb.server.app.principal import Principal
from orgkb.server.app.databases import SqlService
from orgkb.server.app.results import AccessDecision
from orgkb.server.config import OrgkbConfig, SearchConfig, ServerConfig
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.live import LiveIndex, LiveListener
from orgkb.server.search.searcher import Searcher

log = logging.getLogger(__name__)


class OrgkbService:
    """Everything orgkb can do over one config's index; callers get it through `for_caller`."""

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        live: LiveIndex | None = None,
        databases: SqlService | None = None,
        searcher: Searcher | None = None,
        health: HealthMonitor | None = None,
    ) -> None:
        config = index.config
        self._index = index
        self._config = config
        self._searcher = searcher or Searcher(index)
        # Without background sync, re-indexing still goes through a LiveIndex: it is the one
        # writer of this process, so a `reindex` call waits for any sync already running.
        self._live = live or LiveIndex(index, config.server.live.model_copy(update={"enabled": False}))
        self._databases = databases or SqlService(config)
        self._health = health
        if health is not None:
            self._live.add_listener(health)  # a sync's end refreshes the problems
        self._warm = threading.Event()
        self.warm_error: str | None = None
        self._start_lock = threading.Lock()
        self._started = False
        local = config.server.principal
        # The local user (stdio, the CLI, loopback HTTP without tokens) is who the config says.
        self._local_access = (
            FULL_ACCESS
            if local is None
            else Access(name="local", principal=Principal(user=local.user, groups=frozenset(local.groups), admin=local.admin))
        )

    @classmethod
    def from_config(cls, config: OrgkbConfig, *, live_sync: bool = False) -> OrgkbService:
        """A service over ``config``'s index; ``live_sync`` keeps it in sync while started."""
        index = KnowledgeIndex(config)
        live = LiveIndex(index, config.server.live) if live_sync and config.server.live.enabled else None
        return cls(index, live=live)

    # --- what front ends need to build their surface (no source names: those are per caller)

    @property
    def server_settings(self) -> ServerConfig:
        """The `[server]` settings: name, instructions, tool descriptions, paging, HTTP."""
        return self._config.server

    @property
    def search_settings(self) -> SearchConfig:
        """The `[search]` defaults and limits."""
        return self._config.search

    @property
    def has_databases(self) -> bool:
        """True when some source is a database (the SQL tools exist)."""
        return bool(self._databases.sources)

    @property
    def database_row_cap(self) -> int:
        """The most rows any database source lets one query return (the `sql_query` limit's maximum)."""
        databases = self._databases
        return max((databases.sources[name].max_rows for name in databases.query_sources), default=1)

    @property
    def live_sync(self) -> bool:
        """True when the index follows the sources by itself while the service runs."""
        return self._live.settings.enabled

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, *, warm_up: bool = True) -> None:
        """Load the model in the background (``warm_up``) and start live sync, if configured.

        Idempotent: the server calls it once the first handshake is answered (or after a short
        delay when no client comes), so importing torch in the background never slows `initialize`.
        """
        with self._start_lock:
            if self._started:
                return
            self._started = True
        if warm_up:
            threading.Thread(target=self.warm_up, name="orgkb-warm-up", daemon=True).start()
        self._live.start()

    def stop(self) -> None:
        """Stop live sync (a sync in progress finishes in the background) and close databases."""
        threading.Thread(target=self._live.stop, name="orgkb-live-stop", daemon=True).start()
        self._databases.close()

    def warm_up(self) -> None:
        """Load the model and open the store now, so the first search does not wait for them."""
        try:
            self._index.open()
            self._index.embedder.embed_query("warm up")
            self._searcher.prepare()
        except Exception as exc:  # noqa: BLE001 - reported on first use instead of crashing the server
            self.warm_error = str(exc)
            log.warning("warm-up failed: %s", exc)
        finally:
            self._warm.set()

    def add_listener(self, listener: LiveListener) -> None:
        """Hear about index changes (all sources: a listener filters per caller with `for_caller`)."""
        self._live.add_listener(listener)

    # --- callers ------------------------------------------------------------------------------

    def for_caller(self, access: Access) -> CallerView:
        """The service as ``access`` may use it (`FULL_ACCESS` stands for the local user)."""
        return CallerView(self, self._local_access if access is FULL_ACCESS else access)

    def explain_access(self, access: Access, reference: str) -> AccessDecision:
        """Whether ``access`` may open the document ``reference`` names, and why (an admin's
        question: the document is looked up whoever may see it; `NotFoundError` if none is indexed).

        The answer is the caller's own view's (`CallerView.stored_document`); the explanation
        only names the rule that view applied.
        """
        document = CallerView(self, Access(name="explain")).resolve(reference)
        view = self.for_caller(access)
        allowed = view.stored_document(document.doc_id) is not None
        permissions = self._index.catalog.permissions_of(document.doc_id)
        matched = sorted(access.granting(permissions))
        principal = access.principal
        if not view.may_see_source(document.source):
            decided = f"source {document.source!r} is not visible to this caller"
        elif principal is None:
            decided = "no principal: every document of the sources this caller may see"
        elif principal.admin:
            decided = "admin: every document of the sources this caller may see"
        elif permissions is None:
            decided = "no permissions recorded: admins only"
        elif matched:
            decided = f"allowed as {', '.join(matched)}"
        elif not permissions.principals:
            decided = "the document allows nobody: admins only"
        else:
            decided = "none of the caller's principal names is allowed"
        return AccessDecision(
            user=principal.user if principal else access.name,
            groups=sorted(principal.groups) if principal else [],
            doc_id=document.doc_id,
            title=document.title,
            uri=document.uri,
            resource_uri=document_uri(document.source, document.key),
            allowed=allowed,
            decided_by=decided,
            rule=permissions.rule if permissions is not None else None,
            document_allows=sorted(permissions.principals) if permissions is not None else [],
            matched=matched,
        )

    def local(self) -> CallerView:
        """The service for the local user (the CLI, stdio): every source, as `[server] principal` allows."""
        return CallerView(self, self._local_access)
