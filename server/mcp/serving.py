"""`orgkb serve`: the MCP server over stdio or Streamable HTTP, with live sync.

Nothing heavy is imported before the transport answers `initialize`: the model, torch and
Chroma load in the background (warm-up), and the first search answers from the existing index
while a catch-up sync runs behind it.
"""

from __future__ import annotations

from typing import Literal

from orgkb.server.config import OrgkbConfig
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.live import LiveIndex
from orgkb.server.app.service import KnowledgeService

Transport = Literal["stdio", "http"]


def serve(
    config: OrgkbConfig,
    *,
    transport: Transport = "stdio",
    host: str | None = None,
    port: int | None = None,
    read_only: bool = False,
    live_sync: bool = True,
    warm_up: bool = True,
) -> None:
    """Run the server until the client disconnects (stdio) or the process is interrupted (http)."""
    from orgkb.server.mcp.app import build_server

    index = KnowledgeIndex(config)
    live = LiveIndex(index, config.server.live) if live_sync and config.server.live.enabled else None
    server = build_server(
        KnowledgeService(index), warm_up=warm_up, live=live, read_only=read_only or config.server.read_only
    )
    if transport == "stdio":
        server.run("stdio")
        return
    from orgkb.server.mcp.http import run_http

    http = config.server.http
    run_http(server, config, host or http.host, http.port if port is None else port)
