"""Which sources a client may see.

A client on stdio (or in-process) is the local user and sees everything. Over HTTP, the
request guard authenticates each request and puts the token's `Access` in the request's ASGI
scope; every tool, resource, prompt, completion and notification then shows only those
sources. A request that reaches the MCP app over HTTP without an `Access` sees nothing
(fail closed).

An `Access` may also carry the caller's `Principal`: then each document is shown only when its
permissions (captured from the source at index time) allow one of the principal's names.
Without a principal (the local user, a static token with no identity) documents are limited by
source only, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from orgkb.connectors.permissions import Permissions
from orgkb.server.app.principal import Principal
from orgkb.server.errors import NotFoundError

ACCESS_SCOPE_KEY = "orgkb.access"


class Access(BaseModel):
    """A client's view: all sources (``sources is None``) or only some; with a principal, only
    the documents its permissions allow."""

    model_config = ConfigDict(frozen=True)

    name: str
    sources: frozenset[str] | None = None
    principal: Principal | None = None

    def can_see(self, source: str) -> bool:
        """True when documents of ``source`` may be shown to this client."""
        return self.sources is None or source in self.sources

    def allows(self, permissions: Permissions | Iterable[str] | None) -> bool:
        """True when a document with these permissions (its allowed principal names) may be
        shown. Checked after `can_see` of its source. No permissions recorded means nobody but
        administrators (fail closed); a denied name wins over an allowed one; a caller without
        a principal is limited by source only."""
        if self.principal is None or self.principal.admin:
            return True
        if permissions is None:
            return False
        if not isinstance(permissions, Permissions):
            permissions = Permissions(principals=frozenset(permissions))
        return permissions.allows(self.principal.names)

    def granting(self, permissions: Permissions | None) -> frozenset[str]:
        """Which of this caller's principal names ``permissions`` allow (for `orgkb access`)."""
        if self.principal is None or permissions is None:
            return frozenset()
        return permissions.principals & self.principal.names

    @property
    def principal_names(self) -> frozenset[str] | None:
        """The principal names a search filters documents on; None when nothing is filtered
        per document (no principal, or an administrator)."""
        if self.principal is None or self.principal.admin:
            return None
        return self.principal.names

    def visible(self, names: Iterable[str]) -> list[str]:
        """The names this client may see, in the given order."""
        return [name for name in names if self.can_see(name)]

    @property
    def limited(self) -> bool:
        """True when some sources are hidden from this client."""
        return self.sources is not None

    def select(self, requested: Iterable[str] | None, configured: Iterable[str]) -> list[str] | None:
        """The sources a request works on: ``requested`` or, when absent, all visible ones
        (None means every source, with nothing hidden). A requested source this client may
        not see is unknown to it, exactly like one that is not configured."""
        visible = self.visible(configured)
        wanted = list(requested or [])
        unknown = sorted(set(wanted) - set(visible))
        if unknown:
            raise NotFoundError(f"unknown source(s): {', '.join(unknown)}; known: {', '.join(visible) or 'none'}")
        return wanted or (visible if self.limited else None)


FULL_ACCESS = Access(name="local")
NO_ACCESS = Access(name="none", sources=frozenset())


def access_of(request: Any) -> Access:
    """The access of the client that sent ``request`` (the transport's request object, or None)."""
    if request is None:
        return FULL_ACCESS  # stdio and in-process clients: the local user
    scope = getattr(request, "scope", None)
    access = scope.get(ACCESS_SCOPE_KEY) if isinstance(scope, dict) else None
    return access if isinstance(access, Access) else NO_ACCESS
