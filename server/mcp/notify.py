"""Telling connected clients that documents changed: `resources/updated` and `list_changed`.

Two protocol eras reach us. Handshake-era clients (2025 protocol: Claude Desktop, the MCP
Inspector, `ClientSession`) subscribe with `resources/subscribe` and get notifications on
their connection's standalone stream; the hub tracks those connections (a server middleware
sees every request) and their subscriptions. 2026-era clients open `subscriptions/listen`
streams fed by the SDK's subscription bus; the hub publishes the same events there.

Changes come from the syncing thread: they hop onto the event loop through an anyio portal
and are delivered there, so indexing never waits for a slow client. A client only hears
about documents it may read, in both eras: 2026-era listen streams are fed by one bus per
distinct access (a stream limited to one source never hears of another source's changes, not
even that a list changed), and a caller with per-document permissions hears of a document
only when it may read it (of a deleted one, when it could read it before).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    ResourcesListChanged,
    ResourceUpdated,
    SubscriptionBus,
)
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, SubscriptionsListenRequestParams, SubscriptionsListenResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from orgkb.connectors.identifiers import STATUS_URI, document_uri, split_doc_id
from orgkb.server.app.access import Access, access_of
from orgkb.server.app.service import OrgkbService
from orgkb.server.index.indexer import IndexChange, SourceSummary

log = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0  # seconds one notification may take to hand to a client's stream
LIST_CHANGED_DELAY = 0.5  # seconds list changes are gathered before one list_changed goes out


@dataclass
class _Client:
    """A handshake-era connection, the access it authenticated with, and its subscriptions."""

    connection: Connection
    access: Access
    uris: set[str] = field(default_factory=set)


def connection_of(ctx: ServerRequestContext[Any, Any]) -> Connection | None:
    """The connection a request arrived on.

    The SDK keeps it private on `ServerSession` (its public `Context.connection` is not built
    for low-level handlers yet); it is the only handle that outlives the request, which a
    notification sent minutes later needs. Returns None if a future SDK moves it.
    """
    connection = getattr(ctx.session, "_connection", None)
    return connection if isinstance(connection, Connection) else None


class SessionHub:
    """Connected clients, their resource subscriptions, and delivery of index changes to them."""

    def __init__(self, service: OrgkbService, bus: SubscriptionBus) -> None:
        self.service = service
        self.bus = bus  # the server's own bus: carries no resource events, which are per access
        self._scoped: dict[Access, tuple[InMemorySubscriptionBus, ListenHandler]] = {}
        self._clients: dict[int, _Client] = {}
        self._list_changed: list[IndexChange] = []  # changes to the document list not yet announced
        self._portal: BlockingPortal | None = None

    def _may_hear(self, access: Access, source: str) -> bool:
        return self.service.for_caller(access).may_see_source(source)

    def audible(self, access: Access, change: IndexChange) -> tuple[list[str], bool]:
        """What ``access`` may hear of ``change``: the uris of the changed documents it may read
        (deleted ones it could read), and whether the list of documents it sees changed."""
        caller = self.service.for_caller(access)
        if not caller.may_see_source(change.source):
            return [], False
        added = [d for d in change.added if caller.may_read(d)]
        updated = [d for d in change.updated if caller.may_read(d)]
        gone = [d for d in change.deleted if caller.may_have_read(d, change.deleted_permissions.get(d))]
        # A permission change shows a document to this caller, or hides it: its list changed.
        regranted = {d: (caller.may_have_read(d, before), caller.may_read(d)) for d, before in change.regranted.items()}
        shown = [d for d, (was, now) in regranted.items() if now]
        moved = any(was != now for was, now in regranted.values())
        uris = [document_uri(*split_doc_id(d)) for d in [*added, *updated, *gone, *shown]]
        return uris, bool(added or gone or moved)

    # --- connections --------------------------------------------------------------------

    async def middleware(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Server middleware: remember each handshake-era connection (and forget it when it closes).

        It also advertises `resources.listChanged` in the `initialize` result: MCPServer's
        transports build their initialization options without a way to pass it.
        """
        connection = connection_of(ctx)
        if connection is not None and connection.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            key = id(connection)
            if key not in self._clients:
                self._clients[key] = _Client(connection, access_of(ctx.request))
                connection.exit_stack.callback(self._clients.pop, key, None)
        result = await call_next(ctx)
        if ctx.method == "initialize" and isinstance(result, dict):
            resources = result.get("capabilities", {}).get("resources")
            if isinstance(resources, dict):
                resources["listChanged"] = True
        return result

    def client(self, ctx: ServerRequestContext[Any, Any]) -> _Client | None:
        """The tracked client a request came from (None for 2026-era requests)."""
        connection = connection_of(ctx)
        return self._clients.get(id(connection)) if connection is not None else None

    @property
    def client_count(self) -> int:
        """Handshake-era connections currently open."""
        return len(self._clients)

    async def scoped_listen(
        self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        """`subscriptions/listen` on the caller's own bus, refusing uris outside the caller's sources."""
        access = access_of(ctx.request)
        caller = self.service.for_caller(access)
        for uri in params.notifications.resource_subscriptions or []:
            if not caller.may_see_uri(uri):
                raise MCPError(INVALID_PARAMS, f"unknown resource: {uri}")
        if access not in self._scoped:
            bus = InMemorySubscriptionBus()
            self._scoped[access] = (bus, ListenHandler(bus))
        return await self._scoped[access][1](ctx, params)

    # --- delivery (called from the syncing thread) --------------------------------------

    def attach(self, portal: BlockingPortal | None) -> None:
        """Deliver through ``portal`` (the server's event loop); None stops delivery."""
        self._portal = portal

    def documents_changed(self, change: IndexChange) -> None:
        """`LiveListener`: hand a change to the event loop."""
        self._spawn(self._deliver_change, change)

    def sync_finished(self, summary: SourceSummary) -> None:
        """`LiveListener`: the status resource changed."""
        self._spawn(self._deliver_updated, summary.source, [STATUS_URI])

    def _spawn(self, function: Any, *args: Any) -> None:
        portal = self._portal
        if portal is None:
            return
        try:
            portal.start_task_soon(function, *args)
        except RuntimeError:  # the portal closed while the server shuts down
            log.debug("dropped a change notification: server stopping")

    async def _deliver_change(self, change: IndexChange) -> None:
        # Each caller hears only of documents it may read: their uris, and a list change only
        # when a document it may read appeared or went.
        for client in list(self._clients.values()):
            uris, _ = self.audible(client.access, change)
            for uri in client.uris.intersection(uris):
                with anyio.move_on_after(SEND_TIMEOUT):  # a stuck client must not hold up the others
                    await client.connection.send_resource_updated(uri)
        for access, (bus, _) in list(self._scoped.items()):
            for uri in self.audible(access, change)[0]:
                await bus.publish(ResourceUpdated(uri=uri))
        if not (change.added or change.deleted or change.regranted):
            return
        # A big sync commits many batches: their list changes go out together, a moment later.
        first = not self._list_changed
        self._list_changed.append(change)
        if not first:
            return
        await anyio.sleep(LIST_CHANGED_DELAY)
        changes, self._list_changed = self._list_changed, []
        for client in list(self._clients.values()):
            if any(self.audible(client.access, c)[1] for c in changes):
                with anyio.move_on_after(SEND_TIMEOUT):
                    await client.connection.send_resource_list_changed()
        for access, (bus, _) in list(self._scoped.items()):
            if any(self.audible(access, c)[1] for c in changes):
                await bus.publish(ResourcesListChanged())

    async def _deliver_updated(self, source: str, uris: list[str]) -> None:
        """Tell who may see ``source`` that ``uris`` (its status resource) changed."""
        for client in list(self._clients.values()):
            if self._may_hear(client.access, source):
                for uri in client.uris.intersection(uris):
                    with anyio.move_on_after(SEND_TIMEOUT):
                        await client.connection.send_resource_updated(uri)
        for access, (bus, _) in list(self._scoped.items()):
            if self._may_hear(access, source):
                for uri in uris:
                    await bus.publish(ResourceUpdated(uri=uri))
