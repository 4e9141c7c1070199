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

from tests.conftest import PROJECT_ROOT, SAMPLE_DOCS, subprocess_env, write_config

HEAVY = (
    "torch", "sentence_transformers", "transformers", "chromadb", "numpy", "onnxruntime",
    # What connectors use; a config naming every type must not import them for the handshake.
    "sqlalchemy", "sqlglot", "psycopg", "httpx", "bs4", "smbprotocol", "pypdf", "docx",
)


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
    (tmp_path / "records.jsonl").write_text('{"_id": "1", "text": "x"}\n')
    (tmp_path / "dump.xml").write_text("<mediawiki></mediawiki>\n")
    sources = [
        {"name": "docs", "type": "files", "paths": [str(docs)]},
        {"name": "vault", "type": "markdown_wiki", "path": str(docs)},
        {"name": "db", "type": "sql", "url": f"sqlite:///{SAMPLE_DOCS / 'databases' / 'brightwater.db'}",
         "tables": [{"table": "products", "id": "product_id", "title": "name"}]},
        {"name": "crm", "type": "sql", "url": "postgresql://reader@127.0.0.1:1/crm", "password_env": "UNSET_PW"},
        {"name": "confluence", "type": "confluence", "url": "https://example.atlassian.net/wiki", "spaces": ["ENG"],
         "username": "a@example.org", "token_env": "UNSET_TOKEN"},
        {"name": "mw", "type": "mediawiki", "url": "http://127.0.0.1:1/wiki"},
        {"name": "dump", "type": "mediawiki_dump", "path": str(tmp_path / "dump.xml")},
        {"name": "doku", "type": "dokuwiki", "url": "http://127.0.0.1:1/dokuwiki"},
        {"name": "share", "type": "smb", "server": "127.0.0.1", "share": "docs", "username": "u", "password_env": "UNSET_PW"},
        {"name": "records", "type": "jsonl", "paths": [str(tmp_path / "records.jsonl")]},
    ]
    config = write_config(tmp_path / "orgkb.toml", sources)
    # -X importtime writes hundreds of lines to stderr: a file, not a pipe nobody drains while
    # the test waits on stdout (a full pipe would block the server before it answers).
    stderr_file = (tmp_path / "stderr.txt").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "orgkb.server", "--config", str(config), "serve", "--no-warm-up", "--no-sync"],
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
    assert "mcp" in imported and "pydantic" in imported  # the check sees real imports
    assert "watchdog" not in imported  # with --no-sync nothing watches folders, so it is never loaded
    assert not imported.intersection(HEAVY), sorted(imported.intersection(HEAVY))
