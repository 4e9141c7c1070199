"""Helpers for tests that drive `orgkb serve` with the SDK's client."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio


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


def serve_http(config: Any, port: int, *extra: str) -> tuple[Any, str, list[str]]:
    """Start `orgkb serve --transport http --no-sync` on ``port`` as a child process.

    Returns the process, its banner line and a list its stderr keeps filling (for failure
    messages); the caller stops it by its PID (``process.terminate()``).
    """
    import subprocess
    import threading

    from tests.conftest import PROJECT_ROOT, orgkb_command, subprocess_env

    env = subprocess_env()
    env.pop("ORGKB_HTTP_TOKEN", None)
    process = subprocess.Popen(
        orgkb_command("--config", str(config), "serve", "--transport", "http", "--port", str(port), "--no-sync", *extra),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=str(PROJECT_ROOT),
    )
    assert process.stderr is not None
    banner = process.stderr.readline()
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(process.stderr), daemon=True).start()  # type: ignore[arg-type]
    return process, banner, log
