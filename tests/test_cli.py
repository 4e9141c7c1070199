"""The `orgkb` command as a user runs it: index, search --json, status, and clear errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import orgkb_command, subprocess_env, write_config


def _orgkb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(orgkb_command(*args), capture_output=True, text=True, env=subprocess_env(), timeout=300)


def test_index_search_json_and_status(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "parking.md").write_text("# Parking\n\nStaff park in garage B, level -2; badges open the gate.\n")
    (docs / "bad.txt").write_bytes(bytes(range(0x80, 0x100)) * 4)
    config = write_config(tmp_path / "orgkb.toml", [{"name": "office", "type": "files", "paths": [str(docs)]}])

    indexed = _orgkb("--config", str(config), "index")
    assert indexed.returncode == 0, indexed.stderr
    assert "office" in indexed.stderr and "bad.txt" in indexed.stderr
    assert indexed.stdout == ""

    found = _orgkb("--config", str(config), "search", "where can employees park their car", "--json")
    assert found.returncode == 0, found.stderr
    payload = json.loads(found.stdout)
    hit = payload["hits"][0]
    assert {"uri", "title", "score", "text", "source"} <= set(hit)
    assert hit["source"] == "office" and hit["uri"].endswith("parking.md") and "garage B" in hit["text"]

    human = _orgkb("--config", str(config), "search", "parking garage")
    assert "garage B" in human.stdout and "parking.md" in human.stdout

    status = _orgkb("--config", str(config), "status", "--json")
    source = json.loads(status.stdout)["sources"][0]
    assert source["documents"] == 1
    assert [f["key"] for f in source["failures"]] == ["bad.txt"]


def test_config_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "orgkb.toml"
    config.write_text('[[sources]]\nname = "x"\ntype = "files"\npaths = ["missing"]\n')
    result = _orgkb("--config", str(config), "index")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "folder not found" in result.stderr and "Traceback" not in result.stderr


def test_search_filters_by_metadata_and_date_from_the_command_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("---\nteam: finance\n---\n# Budget\n\nThe travel budget is frozen until June.\n")
    (docs / "b.md").write_text("---\nteam: sales\n---\n# Targets\n\nThe travel budget for sales doubles in June.\n")
    config = write_config(tmp_path / "orgkb.toml", [{"name": "docs", "type": "files", "paths": [str(docs)]}])
    assert _orgkb("--config", str(config), "index").returncode == 0
    found = _orgkb("--config", str(config), "search", "travel budget", "--meta", "team=sales", "--json")
    assert [h["doc_id"] for h in json.loads(found.stdout)["hits"]] == ["docs:b.md"]
    future = _orgkb("--config", str(config), "search", "travel budget", "--modified-after", "2999-01-01", "--json")
    assert json.loads(future.stdout)["hits"] == []
    bad = _orgkb("--config", str(config), "search", "travel", "--modified-after", "soon")
    assert bad.returncode == 2 and "modified_after" in bad.stderr and "Traceback" not in bad.stderr
