"""Every MCP client snippet in README.md parses, and the command it names starts a server that a
real SDK client can use (with the per-user config `orgkb init` writes, found from `/`).

The snippets name `orgkb` (or an absolute path ending in it) as their users install it; the test
runs this venv's `orgkb` console script in its place, with nothing but the snippet's arguments.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
ORGKB = Path(sys.executable).parent / "orgkb"
INSPECTOR_PACKAGE = re.compile(r"^@modelcontextprotocol/inspector@[\d.]+$")


def snippet(name: str) -> str:
    """The fenced block that follows ``<!-- snippet: name -->`` in README.md."""
    match = re.search(rf"<!-- snippet: {re.escape(name)} -->\s*```\w*\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert match, f"README.md has no snippet {name!r}"
    return match.group(1)


def server_command(name: str) -> tuple[str, list[str], dict[str, str]]:
    """The (command, args, env) a client would start, read from the snippet as that client reads it."""
    text = snippet(name)
    if name in ("claude-desktop", "cursor"):
        entry = json.loads(text)["mcpServers"]["orgkb"]
        return entry["command"], entry["args"], entry.get("env", {})
    if name == "vscode":
        entry = json.loads(text)["servers"]["orgkb"]
        assert entry["type"] == "stdio"
        return entry["command"], entry["args"], entry.get("env", {})
    words = shlex.split(text.strip())
    if name == "claude-code":
        assert words[:3] == ["claude", "mcp", "add"] and "orgkb" in words[3 : words.index("--")]
        command = words[words.index("--") + 1 :]
        return command[0], command[1:], {}
    if name.startswith("inspector"):
        assert words[:2] == ["npx", "-y"] and INSPECTOR_PACKAGE.match(words[2]), words
        rest = words[3:]
        if rest[0] == "--cli":
            rest = rest[1 : rest.index("--method")]
        return rest[0], rest[1:], {}
    raise AssertionError(name)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user whose per-user config (written by `orgkb init`) indexes one folder."""
    root = tmp_path_factory.mktemp("readme")
    home = root / "home"
    docs = root / "docs"
    docs.mkdir()
    (docs / "vpn.md").write_text("# VPN\n\nInstall the WireGuard client, then import the profile from the IT portal.\n")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run([str(ORGKB), "init", str(docs)], check=True, env=env, capture_output=True, cwd="/")
    return home


@pytest.mark.slow
@pytest.mark.parametrize("name", ["claude-desktop", "claude-code", "cursor", "vscode", "inspector", "inspector-cli"])
def test_each_client_snippet_starts_a_working_server(name: str, home: Path) -> None:
    command, args, env = server_command(name)
    assert command == "orgkb" or re.search(r"[/\\]orgkb(\.exe)?$", command), command
    assert args[-1] == "serve", args

    async def session() -> None:
        params = StdioServerParameters(command=str(ORGKB), args=args, env={"HOME": str(home), "PATH": "/usr/bin:/bin", **env}, cwd="/")
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            init = await client.initialize()
            assert init.server_info.name == "orgkb"
            result: Any = await client.call_tool("list_sources", {})
            assert [s["name"] for s in result.structured_content["sources"]] == ["docs"]

    anyio.run(session)


def test_the_readme_names_claude_desktops_config_file_on_every_system() -> None:
    text = README.read_text(encoding="utf-8")
    for path in ("~/Library/Application Support/Claude/claude_desktop_config.json",
                 "%APPDATA%\\Claude\\claude_desktop_config.json", "~/.config/Claude/claude_desktop_config.json"):
        assert path in text, path
