"""Which sources a client may see.

A client on stdio (or in-process) is the local user and sees everything. Over HTTP, the
request guard authenticates each request and puts the token's `Access` in the request's ASGI
scope; every tool, resource, prompt, completion and notification then shows only those
sources. A request that reaches the MCP app over HTTP without an `Access` sees nothing
(fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from orgkb.server.errors import NotFoundError

ACCESS_SCOPE_KEY = "orgkb.access"


class Access(BaseModel):
    """A client's view: all sources (``sources is None``) or only some."""

    model_config = ConfigDict(frozen=True)

    name: str
    sources: frozenset[str] | None = None

    def can_see(self, source: str) -> bool:
        """True when documents of ``source`` may be shown to this client."""
        return self.sources is None or source in self.sources

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
