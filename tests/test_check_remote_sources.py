"""`orgkb check` over remote sources: one clear line per problem, from the real CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import SAMPLE_DOCS, orgkb_command, subprocess_env, write_config
from tests.fake_confluence import FakeConfluence
from tests.samba_server import SambaServer


def test_check_reports_each_remote_problem_on_one_line(tmp_path: Path, samba: SambaServer, confluence_server: FakeConfluence) -> None:
    samba.write("check/readme.md", "# Readme\n")
    confluence_server.add_space("ENG", "Engineering")
    wiki = {"type": "confluence", "url": confluence_server.base, "deployment": "cloud", "username": confluence_server.user,
            "token_env": "CHECK_WIKI_TOKEN", "spaces": ["ENG"], "max_retries": 0}
    share = {"type": "smb", "server": "127.0.0.1", "port": samba.port, "share": "docs", "path": "check",
             "username": samba.user, "password_env": "CHECK_SMB_PASSWORD", "connect_retries": 0}
    expected = {
        "team-wiki": "✓ team-wiki (markdown_wiki)",
        "wiki-ok": "✓ wiki-ok (confluence)",
        "wiki-token": "refused access (HTTP 401)",
        "wiki-space": "space HR not found or not visible to Ana Ferreira",
        "wiki-url": f"no Confluence REST API at {confluence_server.origin}/wrong/wiki (HTTP 404): check `url`",
        "wiki-down": "cannot reach http://127.0.0.1:9",
        "share-ok": "✓ share-ok (smb)",
        "share-password": "127.0.0.1 rejected the login of orgkbsmb: check `username` and the password in CHECK_SMB_WRONG",
        "share-share": "share 'nosuch' not found",
        "share-permission": f"orgkbsmb may not open share 'vault' on 127.0.0.1:{samba.port} (access denied)",
        "share-down": "cannot reach SMB server 127.0.0.1:9",
    }
    sources = [
        {"name": "team-wiki", "type": "markdown_wiki", "path": str(SAMPLE_DOCS / "team-wiki")},
        {"name": "wiki-ok", **wiki},
        {"name": "wiki-token", **wiki, "token_env": "CHECK_WIKI_WRONG"},
        {"name": "wiki-space", **wiki, "spaces": ["ENG", "HR"]},
        {"name": "wiki-url", **wiki, "url": confluence_server.origin + "/wrong/wiki"},
        {"name": "wiki-down", **wiki, "url": "http://127.0.0.1:9/wiki"},
        {"name": "share-ok", **share},
        {"name": "share-password", **share, "password_env": "CHECK_SMB_WRONG"},
        {"name": "share-share", **share, "share": "nosuch"},
        {"name": "share-permission", **share, "share": "vault", "path": ""},
        {"name": "share-down", **share, "port": 9},
    ]
    config = write_config(tmp_path / "orgkb.toml", sources)
    env = subprocess_env(CHECK_WIKI_TOKEN=confluence_server.token, CHECK_WIKI_WRONG="wrong-token",
                         CHECK_SMB_PASSWORD=samba.password, CHECK_SMB_WRONG="wrong-password")
    result = subprocess.run(orgkb_command("--config", str(config), "check"), capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(sources), result.stdout + result.stderr
    for line, source in zip(lines, sources, strict=True):
        name = str(source["name"])
        assert (line.startswith("✓") if name.endswith("ok") or name == "team-wiki" else line.startswith(f"✗ {name}:")), line
        assert expected[name] in line, line
    assert "Traceback" not in result.stderr
    assert "wrong-token" not in result.stdout + result.stderr and "wrong-password" not in result.stdout + result.stderr
