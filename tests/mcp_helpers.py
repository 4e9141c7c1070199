"""Helpers for tests that drive `orgkb serve` with the SDK's client."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from tests.conftest import PROJECT_ROOT, orgkb_command, subprocess_env


class Notifications:
    """A `message_handler` that keeps server notifications and lets a test wait for one."""

    def __init__(self) -> None:
        self.items: list[tuple[float, Any]] = []
        self._arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if hasattr(message, "method"):
            self.items.append((time.monotonic(), message))
            self._arrived.set()
            self._arrived = anyio.Event()

    def mark(self) -> int:
        """A position: `wait_for` only looks at notifications that arrive after it."""
        return len(self.items)

    def found(self, method: str, uri: str | None = None, since: int = 0) -> float | None:
        """When a matching notification arrived after ``since`` (None if none did)."""
        for at, message in self.items[since:]:
            params = getattr(message, "params", None)
            if message.method == method and (uri is None or str(getattr(params, "uri", "")) == uri):
                return at
        return None

    async def wait_for(self, method: str, uri: str | None = None, since: int = 0, timeout: float = 20.0) -> float:
        """Wait for a matching notification; return when it arrived."""
        with anyio.fail_after(timeout):
            while (at := self.found(method, uri, since)) is None:
                await self._arrived.wait()
        return at


async def read_status(session: Any) -> dict[str, Any]:
    """The `orgkb://status` resource, parsed."""
    result = await session.read_resource("orgkb://status")
    return json.loads(result.contents[0].text)


async def wait_for_catch_up(session: Any, timeout: float = 90.0) -> dict[str, Any]:
    """Wait until every source has finished the start-up sync (the model loads first)."""
    with anyio.fail_after(timeout):
        while True:
            status = await read_status(session)
            if all(s["sync"] and s["sync"]["last_finished"] and s["sync"]["state"] == "idle" for s in status["sources"]):
                return status
            await anyio.sleep(0.25)


async def all_resources(session: Any) -> list[Any]:
    """Every listed resource, following `nextCursor` to the end."""
    from mcp_types import PaginatedRequestParams

    resources: list[Any] = []
    cursor = None
    while True:
        page = await session.list_resources(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
        resources.extend(page.resources)
        cursor = page.next_cursor
        if not cursor:
            return resources


def hit_doc_id(hit: dict[str, Any]) -> str:
    """The document id of a search hit in structured content (from its resource uri)."""
    from orgkb.connectors.identifiers import doc_id, parse_document_uri

    named = parse_document_uri(hit["resource_uri"])
    assert named is not None, hit["resource_uri"]
    return doc_id(*named)


@dataclass
class HttpServer:
    """A running `orgkb serve --transport http`: its URL, process and everything it logged."""

    url: str
    process: subprocess.Popen[str]
    banner: str
    log: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The log so far, as one string."""
        return "".join(self.log)


@contextmanager
def http_server(config: Path, env: dict[str, str], *args: str, banner: str = "serving MCP at http://127.0.0.1:") -> Iterator[HttpServer]:
    """Start `orgkb serve --transport http` on ``config`` (``args`` added, e.g. ``--port 0``),
    wait for its banner (which must contain ``banner``), and stop it by PID afterwards."""
    process = subprocess.Popen(
        orgkb_command("--config", str(config), "serve", "--transport", "http", *args),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=str(PROJECT_ROOT),
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert banner in first, first
        running = HttpServer(url=first.split(" at ")[1].split()[0], process=process, banner=first)
        threading.Thread(target=lambda: running.log.extend(process.stderr), daemon=True).start()  # type: ignore[arg-type]
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@contextmanager
def oauth_server(config: Path, url: str, **env: str) -> Iterator[HttpServer]:
    """`orgkb serve` over HTTP at ``url`` (its port) with ``[server.auth]`` from ``config``: no
    static full-access token in its environment (``env`` adds secrets), no background sync."""
    environment = subprocess_env(**env)
    environment.pop("ORGKB_HTTP_TOKEN", None)
    port = url.rsplit(":", 1)[1].split("/")[0]
    with http_server(config, environment, "--port", port, "--no-sync", banner=f"serving MCP at {url}") as started:
        yield started
