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
    (tmp_path / "docs").mkdir()
    config = tmp_path / "orgkb.toml"
    config.write_text('[[sources]]\nname = "x"\ntype = "files"\npaths = ["docs"]\npathz = 1\n')
    result = _orgkb("--config", str(config), "index")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "sources[0] (x).pathz: unknown key" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_folder_is_one_line_and_the_other_sources_still_index(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nThe cafeteria opens at eight.\n")
    config = write_config(tmp_path / "orgkb.toml", [
        {"name": "gone", "type": "files", "paths": [str(tmp_path / "missing")]},
        {"name": "docs", "type": "files", "paths": [str(docs)]},
    ])
    result = _orgkb("--config", str(config), "index")
    assert result.returncode == 1
    assert f"gone: disabled: folder not found: {tmp_path / 'missing'}" in result.stderr
    status = json.loads(_orgkb("--config", str(config), "status", "--json").stdout)
    assert {s["name"]: (s["documents"], s["disabled"]) for s in status["sources"]} == {
        "docs": (1, None), "gone": (0, f"folder not found: {tmp_path / 'missing'}"),
    }
    asked = _orgkb("--config", str(config), "search", "cafeteria", "--source", "gone")
    assert asked.returncode == 2 and "source 'gone' is disabled: folder not found" in asked.stderr


def test_cli_arguments_follow_the_tools_rules(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    config = write_config(tmp_path / "orgkb.toml", [{"name": "docs", "type": "files", "paths": [str(docs)]}])
    for limit in ("0", "-5", "51"):
        result = _orgkb("--config", str(config), "search", "x", "--limit", limit)
        assert result.returncode == 2 and "--limit must be between 1 and 50" in result.stderr, limit
    blank = _orgkb("--config", str(config), "search", "")
    assert blank.returncode == 2 and "the query must have 1 to 2000 characters" in blank.stderr
    unknown = _orgkb("--config", str(config), "search", "x", "--source", "nope")
    assert unknown.returncode == 2 and "unknown source(s): nope; known: docs" in unknown.stderr
    empty = _orgkb("--config", str(config), "search", "x")
    assert empty.returncode == 0 and "the index is empty" in empty.stderr and f"--config {config} index" in empty.stderr
    version = _orgkb("--version")
    assert version.returncode == 0 and version.stdout.startswith("orgkb ")


def test_no_config_and_an_unusable_data_dir_are_one_line(tmp_path: Path) -> None:
    env = {**subprocess_env(), "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": "", "ORGKB_CONFIG": ""}
    none = subprocess.run(orgkb_command("status"), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert none.returncode == 2 and none.stderr.count("\n") == 1 and "orgkb init FOLDER" in none.stderr
    assert not (tmp_path / ".orgkb").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    docs = tmp_path / "docs"
    docs.mkdir()
    config = write_config(tmp_path / "orgkb.toml", [{"name": "docs", "type": "files", "paths": [str(docs)]}])
    config.write_text(config.read_text().replace(str(tmp_path / "data"), str(blocker / "index")))
    result = _orgkb("--config", str(config), "status")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "cannot write" in result.stderr and "data_dir" in result.stderr and "Traceback" not in result.stderr


def test_status_fits_a_narrow_terminal_without_cutting_names(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    name = "a-rather-long-source-name-for-the-finance-department-shared-drive"
    config = write_config(tmp_path / "orgkb.toml", [{"name": name, "type": "files", "paths": [str(docs)]}])
    for columns in ("40", "80"):
        result = subprocess.run(orgkb_command("--config", str(config), "status"), capture_output=True, text=True,
                                env=subprocess_env(COLUMNS=columns), timeout=120)
        assert result.returncode == 0 and name in result.stdout, result.stdout
        assert "…" not in result.stdout  # rich's mark of a cut cell
        assert "the index is empty" in result.stdout


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


def test_init_writes_a_commented_config_that_loads_and_never_overwrites_one(tmp_path: Path) -> None:
    from orgkb.server.config import load_config

    (tmp_path / "Team Docs").mkdir()
    (tmp_path / "b" / "Team Docs").mkdir(parents=True)
    config = tmp_path / "conf" / "orgkb.toml"
    made = _orgkb("--config", str(config), "init", str(tmp_path / "Team Docs"), str(tmp_path / "b" / "Team Docs"))
    assert made.returncode == 0, made.stderr
    assert f"orgkb --config {config} index" in made.stderr
    loaded = load_config(config)
    assert [s.name for s in loaded.sources] == ["Team-Docs", "Team-Docs-2"]
    assert loaded.data_dir == config.parent / ".orgkb"
    assert "# [search]" in config.read_text(encoding="utf-8")
    again = _orgkb("--config", str(config), "init", str(tmp_path / "Team Docs"))
    assert again.returncode == 2 and "exists: edit it, or pass --force" in again.stderr
    missing = _orgkb("--config", str(tmp_path / "other.toml"), "init", str(tmp_path / "nope"))
    assert missing.returncode == 2 and f"folder not found: {tmp_path / 'nope'}" in missing.stderr
    assert not (tmp_path / "other.toml").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    busy = _orgkb("init", "--sample", "--dest", str(tmp_path / "full"))
    assert busy.returncode == 2 and "is not empty" in busy.stderr
