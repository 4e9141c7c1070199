"""A token limited to one source learns nothing of the others, through every part of the MCP surface.

The surface is enumerated from the server itself (tools, resources, templates, prompts and
their arguments, as a full-access client lists them), not from a hand-kept list, and every
entry is called with the limited token and arguments that name the hidden sources. Nothing
of them may come back: no content, title, uri, count, schema, table name, completion value or
notification. A refusal must read exactly like the refusal of a name that does not exist.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import subprocess_env, write_config
from tests.mcp_helpers import http_server, Notifications, all_resources, read_status, wait_for_catch_up
from tests.test_mcp_http import session

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:resources/subscribe is removed")]

FULL_TOKEN = "full-token-access-everywhere-0c41"
LIMITED_TOKEN = "handbook-token-access-everywhere-7e2a"
# Every trace of the hidden sources carries one of these (lower-cased comparison).
MARKERS = ("hrvault", "crmvault", "vault_ledger", "zebracorn", "91,500")
GHOST = "nosuchsrc"  # a source that does not exist: hidden ones must be refused exactly like it


@dataclass
class Server:
    url: str
    root: Path
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)


def _database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE vault_ledger (entry_id INTEGER PRIMARY KEY, zebracorn_note TEXT NOT NULL)")
        db.executemany("INSERT INTO vault_ledger VALUES (?, ?)", [(1, "Zebracorn bonus pool 91,500"), (2, "Zebracorn audit")])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("access")
    handbook, hr = root / "handbook", root / "hrvault-files"
    handbook.mkdir()
    hr.mkdir()
    (handbook / "expenses.md").write_text("# Expense policy\n\nExpenses over 40 EUR need your department head's approval.\n")
    (handbook / "salary-reviews.md").write_text("# Salary reviews\n\nSalary reviews happen every spring with your manager.\n")
    (hr / "salaries.md").write_text("# Zebracorn salary bands\n\nGrade 7 zebracorn engineers earn 91,500 per year.\n")
    _database(root / "vault.db")
    sources = [
        {"name": "handbook", "type": "files", "paths": [str(handbook)]},
        {"name": "hrvault", "type": "files", "paths": [str(hr)]},
        {
            "name": "crmvault", "type": "sql", "url": f"sqlite:///{root / 'vault.db'}",
            "tables": [{"table": "vault_ledger", "id": "entry_id", "title": "Ledger {entry_id}", "text": ["zebracorn_note"]}],
        },
    ]
    config = write_config(
        root / "orgkb.toml", sources,
        **{
            "server.live": {"debounce_seconds": 0.3},
            "server.http": {"tokens": [{"name": "handbook-only", "token_env": "ORGKB_TEST_LIMITED", "sources": ["handbook"]}]},
        },
    )
    index = KnowledgeIndex(load_config(config), embedder=real_embedder)
    summary = Indexer(index).run()
    assert summary.ok and summary.total("added") >= 5, summary
    index.close()
    env = subprocess_env(ORGKB_HTTP_TOKEN=FULL_TOKEN, ORGKB_TEST_LIMITED=LIMITED_TOKEN)
    with http_server(config, env, "--port", "0") as started:
        yield Server(url=started.url, root=root, process=started.process, log=started.log)


def _probes(root: Path) -> list[tuple[str, str]]:
    """Argument values that name the hidden sources, each with its twin naming nothing at all."""
    hidden_file = (root / "hrvault-files" / "salaries.md").as_uri()
    ghost_file = (root / f"{GHOST}-files" / "salaries.md").as_uri()
    return [
        ("hrvault", GHOST),
        ("crmvault", GHOST),
        ("hrvault:salaries.md", f"{GHOST}:salaries.md"),
        ("crmvault:vault_ledger/1", f"{GHOST}:vault_ledger/1"),
        ("orgkb://documents/hrvault/salaries.md", f"orgkb://documents/{GHOST}/salaries.md"),
        ("orgkb://schema/crmvault", f"orgkb://schema/{GHOST}"),
        ("orgkb://schema/crmvault/vault_ledger", f"orgkb://schema/{GHOST}/vault_ledger"),
        (hidden_file, ghost_file),
        ("vault_ledger", "nosuch_table"),
        ("zebracorn salary bands", "zebracorn salary bands"),  # a query: must find only handbook passages
        ("SELECT * FROM vault_ledger", "SELECT * FROM nosuch_table"),
    ]


def _scrub(text: str, sent: list[str]) -> str:
    """A response as text, lower-cased, without what the caller itself sent and without timings."""
    text = re.sub(r'"(took_ms|elapsed_ms)": [0-9.]+', "", text).lower()
    for value in sorted(sent, key=len, reverse=True):
        text = text.replace(value.lower(), "<sent>")
    # A name inside what was sent may be echoed on its own (the source of a uri): that is no leak.
    for name in (*MARKERS, GHOST, "nosuch_table"):
        if any(name in value.lower() for value in sent):
            text = text.replace(name, "<sent>")
    return text


def _leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


def _benign(name: str, schema: dict[str, Any]) -> Any:
    """A harmless value for an argument that is not being probed."""
    if name in ("source",):
        return "handbook"
    if name in ("sources",):
        return ["handbook"]
    if name in ("uri",):
        return "orgkb://documents/handbook/expenses.md"
    if name in ("sql",):
        return "SELECT 1"
    if name in ("query", "question"):
        return "expense approval"
    kind = schema.get("type") or next((s.get("type") for s in schema.get("anyOf", []) if s.get("type") != "null"), "string")
    return {"integer": schema.get("minimum", 1), "number": 1, "boolean": False, "array": ["x"], "object": {}}.get(kind, "x")


def _takes_text(schema: dict[str, Any]) -> str | None:
    """"string" or "array" when the argument can carry a probe value, else None."""
    options = [schema, *schema.get("anyOf", [])]
    kinds = [option.get("type") for option in options]
    if any(option.get("format") or "enum" in option for option in options):
        return None  # dates and choices: validated before any handler sees them
    if "string" in kinds:
        return "string"
    items = schema.get("items") or next((s.get("items") for s in schema.get("anyOf", []) if s.get("type") == "array"), None)
    if "array" in kinds and items and items.get("type") == "string":
        return "array"
    return None


async def _outcome(call: Any) -> tuple[bool, str]:
    """(refused, everything the response says as JSON text) of one request."""
    try:
        result = await call
    except MCPError as exc:
        return True, str(exc)
    dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return bool(getattr(result, "is_error", False)), json.dumps(dumped, ensure_ascii=False)


def _template_variables(template: str) -> list[str]:
    return [name.lstrip("+") for name in re.findall(r"\{([^}]+)\}", template)]


def test_a_limited_token_learns_nothing_of_other_sources_anywhere(server: Server) -> None:
    probes = _probes(server.root)

    async def scenario() -> None:
        async with session(server.url, FULL_TOKEN) as full, session(server.url, LIMITED_TOKEN) as limited:
            await wait_for_catch_up(full)
            tools = (await full.list_tools()).tools
            templates = (await full.list_resource_templates()).resource_templates
            prompts = (await full.list_prompts()).prompts
            assert {"search", "fetch", "list_sources", "reindex", "list_tables", "describe_table", "sql_query"} <= {t.name for t in tools}
            checked = 0

            async def check(label: str, make_call: Any, hidden: list[str], ghost: list[str]) -> None:
                nonlocal checked
                refused, said = await _outcome(make_call(hidden))
                leaks = _leaks(_scrub(said, hidden))
                assert not leaks, f"{label}: {leaks} in {said[:400]}"
                twin_refused, twin_said = await _outcome(make_call(ghost))
                if refused or twin_refused:
                    assert (refused, _scrub(said, hidden)) == (twin_refused, _scrub(twin_said, ghost)), label
                checked += 1

            # Listings a limited caller gets are checked whole.
            for listing in (
                await limited.list_tools(), await limited.list_resource_templates(), await limited.list_prompts(),
            ):
                assert not _leaks(listing.model_dump_json().lower())
            listed = await all_resources(limited)
            assert listed and not _leaks(json.dumps([r.model_dump(mode="json") for r in listed]).lower())
            assert not any(t.name in ("list_tables", "describe_table", "sql_query") for t in (await limited.list_tools()).tools)
            for resource in listed:
                said = (await limited.read_resource(resource.uri)).model_dump_json().lower()
                assert not _leaks(said), resource.uri

            # The status counts only what the caller may see.
            status = await read_status(limited)
            everything = await read_status(full)
            handbook = next(s for s in everything["sources"] if s["name"] == "handbook")
            assert [s["name"] for s in status["sources"]] == ["handbook"]
            assert (status["documents"], status["chunks"]) == (handbook["documents"], handbook["chunks"])

            # Every tool, every text argument, every probe.
            for tool in tools:
                properties = tool.input_schema.get("properties", {})
                required = set(tool.input_schema.get("required", []))
                for name, schema in properties.items():
                    kind = _takes_text(schema)
                    if kind is None:
                        continue
                    base = {n: _benign(n, s) for n, s in properties.items() if n in required and n != name}
                    for hidden, ghost in probes:
                        def call(value: str, tool: str = tool.name, name: str = name, kind: str = kind, base: dict[str, Any] = base) -> Any:
                            return limited.call_tool(tool, {**base, name: [value] if kind == "array" else value})

                        await check(f"{tool.name}({name}={hidden!r})", lambda v, c=call: c(v[0]), [hidden], [ghost])

            # Resources: the hidden sources' uris, and subscriptions to them.
            for hidden, ghost in probes:
                if hidden.startswith("orgkb://"):
                    await check(f"read {hidden}", lambda v: limited.read_resource(v[0]), [hidden], [ghost])
                    await check(f"subscribe {hidden}", lambda v: limited.subscribe_resource(v[0]), [hidden], [ghost])

            # Prompts: every argument, every probe.
            for prompt in prompts:
                arguments = prompt.arguments or []
                for argument in arguments:
                    base = {a.name: _benign(a.name, {}) for a in arguments if a.required and a.name != argument.name}
                    for hidden, ghost in probes:
                        def get(value: str, prompt: str = prompt.name, name: str = argument.name, base: dict[str, str] = base) -> Any:
                            return limited.get_prompt(prompt, {**base, name: value})

                        await check(f"prompt {prompt.name}({argument.name}={hidden!r})", lambda v, g=get: g(v[0]), [hidden], [ghost])

            # Completions of every template variable and prompt argument, by prefix and in context.
            references: list[tuple[Any, list[str]]] = [
                (ResourceTemplateReference(uri=t.uri_template), _template_variables(t.uri_template)) for t in templates
            ] + [(PromptReference(name=p.name), [a.name for a in p.arguments or []]) for p in prompts]
            prefixes = ["", "h", "c", "hrv", "crm", "zebra", "vault", "orgkb://", "orgkb://documents/", "orgkb://documents/h",
                        "orgkb://schema/"]
            for reference, names in references:
                for name in names:
                    for prefix in prefixes:
                        for context in (None, {"source": "hrvault"}, {"source": "crmvault"}):
                            completion = await limited.complete(reference, {"name": name, "value": prefix}, context_arguments=context)
                            values = " ".join(completion.completion.values).lower()
                            assert not _leaks(values), (reference, name, prefix, context, values)
                            checked += 1
            assert checked > 300, checked

    anyio.run(scenario)


def test_a_limited_client_hears_nothing_of_changes_in_other_sources(server: Server) -> None:
    """Neither era's notifications say that a hidden source changed; the caller's own source still notifies."""

    async def scenario() -> None:
        notes = Notifications()
        async with session(server.url, FULL_TOKEN) as full, session(server.url, LIMITED_TOKEN, message_handler=notes) as limited:
            await wait_for_catch_up(full)
            await limited.subscribe_resource("orgkb://status")
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {LIMITED_TOKEN}"}, timeout=httpx2.Timeout(30, read=120))
            async with http, Client(streamable_http_client(server.url, http_client=http), mode="auto") as modern:
                assert modern.protocol_version == "2026-07-28"
                async with modern.listen(resources_list_changed=True, resource_subscriptions=["orgkb://status"]) as events:
                    heard: list[Any] = []

                    async def collect() -> None:
                        async for event in events:
                            heard.append(event)

                    async with anyio.create_task_group() as group:
                        group.start_soon(collect)
                        mark = notes.mark()
                        (server.root / "hrvault-files" / "bonus.md").write_text("# Zebracorn bonus\n\nPaid in March.\n")
                        await _wait_until_indexed(full, "hrvault", 2)
                        await anyio.sleep(2.0)  # list changes are gathered for a moment before they go out
                        assert notes.items[mark:] == [], [m.method for _, m in notes.items[mark:]]
                        assert heard == [], heard
                        # The positive control: a change in the caller's own source does reach both.
                        (server.root / "handbook" / "wifi.md").write_text("# Guest wifi\n\nThe password rotates weekly.\n")
                        await notes.wait_for("notifications/resources/list_changed", since=mark, timeout=60)
                        with anyio.fail_after(60):
                            while not any(type(e).__name__ == "ResourcesListChanged" for e in heard):
                                await anyio.sleep(0.1)
                        group.cancel_scope.cancel()

    anyio.run(scenario)


async def _wait_until_indexed(session: ClientSession, source: str, documents: int) -> None:
    with anyio.fail_after(60):
        while True:
            status = await read_status(session)
            counts = {s["name"]: s["documents"] for s in status["sources"]}
            if counts.get(source) == documents:
                return
            await anyio.sleep(0.2)
