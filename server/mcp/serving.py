"""`orgkb serve`: the MCP server over stdio or Streamable HTTP, with live sync.

Nothing heavy is imported before the transport answers `initialize`: the model, torch and
Chroma load in the background (warm-up), and the first search answers from the existing index
while a catch-up sync runs behind it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from orgkb.server.app.health import HealthMonitor, storage_problem
from orgkb.server.config import OrgkbConfig, user_log_dir
from orgkb.server.app.service import OrgkbService
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.live import LiveIndex

Transport = Literal["stdio", "http"]

LOG_NAME = "serve.log"

log = logging.getLogger("orgkb")


def open_log_file(folder: Path | None = None) -> Path | None:
    """Log warnings and errors to ``<per-user log folder>/serve.log`` as well; its path, or None if it cannot be written.

    Under an MCP client stderr is often hidden, so the file is where a person finds the details.
    """
    path = (folder or user_log_dir()) / LOG_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None
    root = logging.getLogger()
    # The file gets orgkb's INFO lines too; stderr keeps the level -v chose.
    for existing in root.handlers:
        if existing.level == logging.NOTSET:
            existing.setLevel(root.getEffectiveLevel())
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    orgkb = logging.getLogger("orgkb")
    orgkb.setLevel(min(orgkb.getEffectiveLevel(), logging.INFO))
    return path


def serve(
    config: OrgkbConfig,
    *,
    transport: Transport = "stdio",
    host: str | None = None,
    port: int | None = None,
    read_only: bool = False,
    live_sync: bool = True,
    warm_up: bool = True,
    config_error: str | None = None,
    config_path: str | None = None,
) -> None:
    """Run the server until the client disconnects (stdio) or the process is interrupted (http).

    It starts whatever is wrong: with ``config_error`` (the config could not be used; ``config``
    is then `empty_config()`) or a data directory it cannot write, it serves what it can and
    says what to fix in its instructions, every tool result and `orgkb://status`.
    """
    from orgkb.server.mcp.app import build_server

    log_file = open_log_file()
    log.info("orgkb serve starting (config: %s, index: %s)", config_path or "none", config.data_dir)
    if config_error:
        log.error("config error: %s", config_error)
    storage_error = storage_problem(config.data_dir)
    if storage_error:
        log.error("data directory: %s", storage_error)
    for unavailable in config.unavailable_sources:
        log.warning("source %s disabled: %s", unavailable.name, unavailable.reason)
    # A server that cannot write its index serves it read-only: no sync, no reindex tool.
    writable = storage_error is None and config_error is None
    read_only = read_only or config.server.read_only or not writable
    index = KnowledgeIndex(config)
    live = LiveIndex(index, config.server.live) if writable and live_sync and config.server.live.enabled else None
    health = HealthMonitor(
        config,
        None if config_error else (lambda: index.catalog),
        config_error=config_error,
        config_path=config_path,
        storage_error=storage_error,
        log_file=log_file,
        can_reindex=not read_only,
    )
    for problem in health.current.problems:
        log.warning("%s", problem.line())
    server = build_server(OrgkbService(index, live=live, health=health), warm_up=warm_up, read_only=read_only)
    if transport == "stdio":
        server.run("stdio")
        return
    from orgkb.server.mcp.http import run_http

    http = config.server.http
    run_http(server, config, host or http.host, http.port if port is None else port)
