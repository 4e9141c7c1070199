"""`orgkb serve` answers the handshake without importing the heavy libraries.

torch, sentence-transformers and Chroma cost seconds to import; they load in the background
(warm-up, live sync) or on first search. Here both are off, the client lists everything,
and `python -X importtime` shows none of them was imported at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT, subprocess_env, write_config

HEAVY = ("torch", "sentence_transformers", "transformers", "chromadb", "numpy", "onnxruntime")


def _messages() -> str:
    init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "resources/list"},
        {"jsonrpc": "2.0", "id": 4, "method": "prompts/list"},
        {"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": {"uri": "orgkb://status"}},
    ]
    return "".join(json.dumps(r) + "\n" for r in requests)


def test_handshake_and_listings_import_nothing_heavy(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nText.\n")
    config = write_config(tmp_path / "orgkb.toml", [{"name": "docs", "type": "files", "paths": [str(docs)]}])
    # -X importtime writes hundreds of lines to stderr: a file, not a pipe nobody drains while
    # the test waits on stdout (a full pipe would block the server before it answers).
    stderr_file = (tmp_path / "stderr.txt").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "server", "--config", str(config), "serve", "--no-warm-up", "--no-sync"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr_file, text=True, env=subprocess_env(), cwd=str(PROJECT_ROOT),
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(_messages())
    process.stdin.flush()
    replies = {}
    while len(replies) < 5:  # stdin stays open until every reply is in: EOF ends the server
        line = process.stdout.readline()
        if not line:
            break
        reply = json.loads(line)
        replies[reply.get("id")] = reply
    process.communicate(timeout=60)
    stderr_file.seek(0)
    stderr = stderr_file.read()
    stderr_file.close()
    assert set(replies) == {1, 2, 3, 4, 5}, stderr[-2000:]
    assert all("result" in r for r in replies.values()), replies
    imported = {line.split("|")[-1].strip().split(".")[0] for line in stderr.splitlines() if line.startswith("import time:")}
    assert "mcp" in imported and "watchdog" in imported  # the check sees real imports
    assert not imported.intersection(HEAVY), sorted(imported.intersection(HEAVY))
