"""`orgkb serve`: the MCP server over stdio or Streamable HTTP, with live sync.

Nothing heavy is imported before the transport answers `initialize`: the model, torch and
Chroma load in the background (warm-up), and the first search answers from the existing index
while a catch-up sync runs behind it.
"""

from __future__ import annotations

from typing import Literal

from orgkb.server.app.service import OrgkbService
from orgkb.server.config import OrgkbConfig

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

    service = OrgkbService.from_config(config, live_sync=live_sync)
    server = build_server(service, warm_up=warm_up, read_only=read_only or config.server.read_only)
    if transport == "stdio":
        server.run("stdio")
        return
    from orgkb.server.mcp.http import run_http

    http = config.server.http
    run_http(server, config, host or http.host, http.port if port is None else port)
