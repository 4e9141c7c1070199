"""`orgkb serve` launched as Claude Desktop launches it: an absolute command, working directory
`/`, only the snippet's environment. Whatever is wrong (no config, a broken one, a missing
folder), the server starts and a real SDK client hears what is wrong and how to fix it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import orgkb_command, subprocess_env, write_config

ORGKB = Path(sys.executable).parent / "orgkb"


def desktop_env(home: Path) -> dict[str, str]:
    """What Claude Desktop gives a server: a home, a plain PATH, and the snippet's `env` (none here)."""
    return {"HOME": str(home), "PATH": "/usr/bin:/bin"}


def _texts(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def _desktop_session(home: Path, args: list[str], checks: Any) -> None:
    params = StdioServerParameters(command=str(ORGKB), args=args, env=desktop_env(home), cwd="/")
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        await checks(session, init)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.mark.slow
def test_no_config_starts_and_every_answer_says_how_to_fix_it(home: Path) -> None:
    assert ORGKB.is_file(), "the orgkb console script of this venv"
    root_index_before = Path("/.orgkb").exists()

    async def checks(session: ClientSession, init: Any) -> None:
        assert "no config file" in (init.instructions or "") and "orgkb init FOLDER" in (init.instructions or "")
        result = await session.call_tool("search", {"query": "badge"})
        text = _texts(result)
        assert "no usable config" in text and "orgkb init FOLDER" in text
        sources = await session.call_tool("list_sources", {})
        assert "no config file" in _texts(sources)
        status = json.loads((await session.read_resource("orgkb://status")).contents[0].text)
        assert status["problems"][0]["kind"] == "config" and "orgkb init" in status["problems"][0]["fix"]
        log_file = Path(status["log_file"])
        assert log_file.is_relative_to(home) and "no config file" in log_file.read_text(encoding="utf-8")

    anyio.run(_desktop_session, home, ["serve", "--no-warm-up"], checks)
    assert Path("/.orgkb").exists() == root_index_before, "serve started in / must not put an index there"


@pytest.mark.slow
def test_a_broken_config_is_named_in_the_tool_result(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "orgkb.toml"
    broken.write_text('[embeding]\nmodel = "x"\n', encoding="utf-8")

    async def checks(session: ClientSession, init: Any) -> None:
        result = await session.call_tool("search", {"query": "badge"})
        assert f"{broken}: embeding: unknown key" in _texts(result)

    anyio.run(_desktop_session, home, ["--config", str(broken), "serve", "--no-warm-up"], checks)


@pytest.mark.slow
def test_a_missing_folder_disables_its_source_and_the_good_one_answers(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "parking.md").write_text("# Parking\n\nStaff park in garage B, level -2; badges open the gate.\n")
    config = write_config(
        tmp_path / "orgkb.toml",
        [{"name": "office", "type": "files", "paths": [str(docs)]}, {"name": "share", "type": "files", "paths": [str(tmp_path / "gone")]}],
    )
    indexed = subprocess.run(orgkb_command("--config", str(config), "index"), capture_output=True, text=True, env=subprocess_env())
    assert indexed.returncode == 1 and f"share: disabled: folder not found: {tmp_path / 'gone'}" in indexed.stderr

    async def checks(session: ClientSession, init: Any) -> None:
        result = await session.call_tool("search", {"query": "where do staff park", "limit": 3})
        assert not result.is_error
        assert result.structured_content["hits"][0]["source"] == "office"
        assert "garage B" in _texts(result)
        assert f"source 'share' is disabled: folder not found: {tmp_path / 'gone'}" in _texts(result)
        listed = (await session.call_tool("list_sources", {})).structured_content["sources"]
        assert {s["name"]: s["disabled"] for s in listed} == {"office": None, "share": f"folder not found: {tmp_path / 'gone'}"}
        asked = await session.call_tool("search", {"query": "parking", "sources": ["share"]})
        assert asked.is_error and "unknown source" in _texts(asked) and "disabled" in _texts(asked)

    anyio.run(_desktop_session, home, ["--config", str(config), "serve", "--no-sync"], checks)


@pytest.mark.slow
def test_an_empty_index_says_which_command_fills_it(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\ntext\n")
    config = write_config(tmp_path / "orgkb.toml", [{"name": "docs", "type": "files", "paths": [str(docs)]}])

    async def checks(session: ClientSession, init: Any) -> None:
        result = await session.call_tool("search", {"query": "badge"})
        text = _texts(result)
        assert "the index is empty" in text and f"orgkb --config {config} index" in text and "`reindex` tool" in text

    anyio.run(_desktop_session, home, ["--config", str(config), "serve", "--no-sync", "--no-warm-up"], checks)
