"""`orgkb search --as USER` and `orgkb access USER URI` as an admin runs them: real system users
and groups, their groups looked up in this machine's user database (`[identity] directory =
"system"`) or given with --groups, the real model, and the exit codes (0 allowed, 1 denied,
2 a mistake)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orgkb.connectors.identifiers import document_uri
from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import orgkb_command, subprocess_env, write_config
from tests.system_accounts import system_accounts, write_owned

USERS = {"orgkbcalice": "orgkbcfin", "orgkbcbob": "orgkbceng"}


def _orgkb(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(orgkb_command("--config", str(config), *args), capture_output=True, text=True, env=subprocess_env(), timeout=300)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Iterator[dict[str, Path]]:
    """A folder whose files belong to finance, engineering and everyone, indexed; two configs
    over it: one with the system directory, one with none."""
    with system_accounts(USERS):
        root = tmp_path_factory.mktemp("admin")
        docs = root / "docs"
        docs.mkdir()
        docs.chmod(0o755)
        write_owned(docs / "budget.md", "# Budget\n\nThe finance travel budget is 12,000 EUR.\n", "orgkbcalice", "orgkbcfin", 0o640)
        write_owned(docs / "roadmap.md", "# Roadmap\n\nThe engineering budget buys build servers.\n", "orgkbcbob", "orgkbceng", 0o640)
        write_owned(docs / "canteen.md", "# Canteen\n\nThe canteen budget covers fruit on Mondays.\n", "orgkbcbob", "orgkbceng", 0o644)
        sources = [{"name": "share", "type": "files", "paths": [str(docs)]}]
        system = write_config(root / "orgkb.toml", sources, identity={"directory": "system"}, **{"server.auth": {"admin_groups": ["orgkbceng"]}})
        bare = write_config(root / "bare.toml", sources)
        index = KnowledgeIndex(load_config(system), embedder=real_embedder)
        Indexer(index).run()
        index.close()
        yield {"system": system, "bare": bare, "docs": docs}


def _search(config: Path, *args: str) -> dict[str, object]:
    done = _orgkb(config, "search", "budget", "--mode", "keyword", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _found(result: dict[str, object]) -> set[str]:
    return {hit["doc_id"] for hit in result["hits"]}  # type: ignore[index, union-attr]


def test_search_as_a_user_shows_what_their_groups_may_open(indexed: dict[str, Path]) -> None:
    as_alice = _search(indexed["system"], "--as", "orgkbcalice")
    assert "share:budget.md" in _found(as_alice) and "share:roadmap.md" not in _found(as_alice)
    assert as_alice["as"] == {"user": "orgkbcalice", "groups": ["orgkbcfin"], "admin": False}
    # Given groups replace the directory's answer: bob as a finance member (and owner of the roadmap).
    given = _search(indexed["system"], "--as", "orgkbcbob", "--groups", "orgkbcfin")
    assert {"share:budget.md", "share:roadmap.md"} <= _found(given)
    # bob's own group is an admin group in [server.auth]: he sees everything, as over HTTP.
    assert _search(indexed["system"], "--as", "orgkbcbob")["as"]["admin"] is True  # type: ignore[index]
    # Without --as the local user (no principal configured) sees everything.
    assert {"share:budget.md", "share:roadmap.md"} <= _found(_search(indexed["system"]))
    text = _orgkb(indexed["system"], "search", "budget", "--mode", "keyword", "--as", "orgkbcalice")
    assert text.returncode == 0 and "As orgkbcalice (orgkbcfin)" in text.stderr and "roadmap" not in text.stdout.lower()


def test_access_says_who_may_open_a_document_and_why(indexed: dict[str, Path]) -> None:
    budget = (indexed["docs"] / "budget.md").as_uri()  # the citation uri a search prints
    denied = _orgkb(indexed["system"], "access", "orgkbcbob", budget, "--groups", "sales")
    assert denied.returncode == 1, denied.stderr
    assert "may not open share:budget.md" in denied.stdout and "posix mode 0640, owner orgkbcalice, group orgkbcfin" in denied.stdout
    allowed = _orgkb(indexed["system"], "access", "orgkbcalice", document_uri("share", "budget.md"), "--json")
    assert allowed.returncode == 0, allowed.stderr
    decision = json.loads(allowed.stdout)
    assert decision["allowed"] is True and decision["matched"] == ["group:orgkbcfin", "user:orgkbcalice"]
    assert decision["decided_by"] == "allowed as group:orgkbcfin, user:orgkbcalice"
    assert decision["document_allows"] == ["group:orgkbcfin", "user:orgkbcalice"]
    refused = json.loads(_orgkb(indexed["system"], "access", "orgkbcalice", "share:roadmap.md", "--json").stdout)
    assert refused["allowed"] is False and refused["matched"] == [] and refused["decided_by"].startswith("none of")
    admin = json.loads(_orgkb(indexed["system"], "access", "orgkbcbob", "share:budget.md", "--json").stdout)
    assert admin["allowed"] is True and admin["decided_by"].startswith("admin")


def test_mistakes_are_one_line_and_exit_2(indexed: dict[str, Path]) -> None:
    cases = {
        (indexed["bare"], "access", "orgkbcalice", "share:budget.md"): "give them with --groups, or set [identity] directory",
        (indexed["system"], "access", "orgkbcnobody", "share:budget.md"): "no user 'orgkbcnobody'",
        (indexed["system"], "access", "orgkbcalice", "share:nothing.md"): "no indexed document",
        (indexed["bare"], "search", "budget", "--groups", "x"): "--groups needs --as USER",
        (indexed["bare"], "search", "budget", "--as", "orgkbcalice"): "give them with --groups",
    }
    for (config, *args), message in cases.items():
        done = _orgkb(config, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and message in done.stderr, (args, done.stderr)
