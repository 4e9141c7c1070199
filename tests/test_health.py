"""Per-source degradation over MCP: a wiki that cannot be reached is reported with its reason in
`list_sources`, `orgkb://status` and the search result's notices, while the folder source answers."""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp import Client

from orgkb.server.app.health import HealthMonitor
from orgkb.server.app.service import OrgkbService
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.mcp.app import build_server
from tests.conftest import IndexFactory


def test_a_wiki_that_is_down_is_reported_and_the_folder_still_answers(make_index: IndexFactory, real_embedder: Embedder, tmp_path: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "parking.md").write_text("# Parking\n\nStaff park in garage B, level -2; badges open the gate.\n")
    # Port 9 (discard) on loopback: nothing listens, so the wiki is "down".
    index = make_index(
        [{"name": "office", "type": "files", "paths": [str(docs)]},
         {"name": "wiki", "type": "dokuwiki", "url": "http://127.0.0.1:9/", "timeout": 2}],
        embedder=real_embedder,
    )
    monitor = HealthMonitor(index.config, lambda: index.catalog, config_path=str(index.config_path))  # type: ignore[attr-defined]
    assert [p.kind for p in monitor.current.problems] == ["empty_index"]
    summary = Indexer(index).run()
    assert not summary.ok
    monitor.refresh()
    [problem] = monitor.current.problems
    assert problem.kind == "source" and problem.source == "wiki" and problem.message.startswith("source 'wiki' did not sync: ")
    assert "orgkb check" in problem.fix

    async def calls() -> None:
        async with Client(build_server(OrgkbService(index, health=monitor), warm_up=False)) as client:
            found = await client.call_tool("search", {"query": "where do staff park", "limit": 2})
            assert not found.is_error and found.structured_content["hits"][0]["source"] == "office"
            assert any(n.startswith("source 'wiki' did not sync") for n in found.structured_content["notices"])
            sources = (await client.call_tool("list_sources", {})).structured_content["sources"]
            errors = {s["name"]: s["last_error"] for s in sources}
            assert errors["office"] is None and errors["wiki"]
            status = json.loads((await client.read_resource("orgkb://status")).contents[0].text)
            assert [p["source"] for p in status["problems"]] == ["wiki"]

    anyio.run(calls)


def test_an_unusable_data_dir_is_one_line_with_the_fix(tmp_path: Any) -> None:
    from orgkb.server.app.health import storage_problem

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    message = storage_problem(blocker / "index")
    assert message is not None and "\n" not in message and str(blocker) in message and "data_dir" in message
    assert storage_problem(tmp_path / "fine") is None


def test_a_sync_error_the_catalog_could_not_record_is_reported_until_a_sync_succeeds(make_index: IndexFactory, hashing_embedder: Embedder, tmp_path: Any) -> None:
    from orgkb.server.index.indexer import SourceSummary

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\ntext\n")
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], embedder=hashing_embedder)
    Indexer(index).run()
    monitor = HealthMonitor(index.config, lambda: index.catalog)
    assert monitor.current.ok
    full = "no space left on the disk /data/catalog.sqlite3 (No space left on device): set `data_dir` ..."
    monitor.sync_finished(SourceSummary(source="docs", error=full))
    [problem] = monitor.current.problems
    assert problem.source == "docs" and full in problem.message
    monitor.sync_finished(SourceSummary(source="docs"))
    assert monitor.current.ok


def test_a_client_limited_to_some_sources_hears_nothing_about_the_others() -> None:
    from orgkb.server.app.access import FULL_ACCESS, Access
    from orgkb.server.app.health import Health, Problem

    health = Health(log_file="/var/log/orgkb/serve.log", problems=[
        Problem(kind="source", source="hr", message="source 'hr' is disabled: folder not found: /srv/hr", fix="mount it"),
        Problem(kind="source", source="wiki", message="source 'wiki' did not sync: login failed", fix="check it"),
        Problem(kind="empty_index", message="the index is empty", fix="run `orgkb index`"),
    ])
    limited = health.visible_to(Access(name="sales", sources=frozenset({"wiki"})))
    assert [p.source for p in limited.problems] == ["wiki", None] and limited.log_file is None
    assert "hr" not in (limited.notice() or "")
    assert health.visible_to(FULL_ACCESS) == health
