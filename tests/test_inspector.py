"""The MCP Inspector CLI (from npm) against `orgkb serve`, as a developer would run it.

The Inspector is installed once by scripts/install-test-services.sh into a cache folder
(0.15.0: the last release that runs on Node 20), so this test never downloads it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import PROJECT_ROOT, subprocess_env, write_config
from tests.mcp_helpers import hit_doc_id

INSPECTOR_VERSION = "0.15.0"
TOOLS_DIR = Path(os.environ.get("ORGKB_TOOLS_DIR", Path.home() / ".cache" / "orgkb-test-tools"))
INSPECTOR = TOOLS_DIR / f"inspector-{INSPECTOR_VERSION}" / "node_modules" / ".bin" / "mcp-inspector"


@pytest.fixture(scope="module")
def inspector() -> Path:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (scripts/install-test-services.sh installs it)")
    if not INSPECTOR.exists():
        pytest.fail(f"the MCP Inspector is not installed at {INSPECTOR}: run scripts/install-test-services.sh")
    return INSPECTOR


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    root = tmp_path_factory.mktemp("inspector")
    docs = root / "docs"
    docs.mkdir()
    (docs / "onboarding.md").write_text(
        "# Onboarding\n\n## First day\n\nNew starters collect their laptop from the IT desk on the third floor.\n"
    )
    (docs / "holidays.md").write_text("# Holidays\n\nEveryone gets 28 days of paid leave, plus public holidays.\n")
    path = write_config(root / "orgkb.toml", [{"name": "handbook", "type": "files", "paths": [str(docs)]}])
    index = KnowledgeIndex(load_config(path), embedder=real_embedder)
    Indexer(index).run()
    index.close()
    return path


def _start(inspector: Path, config: Path, *method: str) -> subprocess.Popen[str]:
    # The Inspector claims `--config` for itself, so the server finds its config through ORGKB_CONFIG.
    command = [str(inspector), "--cli", sys.executable, "-m", "orgkb.server", "serve", "--method", *method]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(PROJECT_ROOT),
        env=subprocess_env(ORGKB_CONFIG=str(config)),
    )


def _result(process: subprocess.Popen[str]) -> dict:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    return json.loads(out)


def test_inspector_lists_everything_and_calls_search(inspector: Path, config: Path) -> None:
    listings = {
        method: _start(inspector, config, method)
        for method in ("tools/list", "resources/list", "resources/templates/list", "prompts/list")
    }
    results = {method: _result(process) for method, process in listings.items()}
    tools = {t["name"]: t for t in results["tools/list"]["tools"]}
    assert {"search", "fetch", "list_sources", "reindex"} == set(tools)
    assert all(t.get("title") and t.get("outputSchema") and t.get("annotations") for t in tools.values())
    uris = [r["uri"] for r in results["resources/list"]["resources"]]
    assert uris == ["orgkb://status", "orgkb://documents/handbook/holidays.md", "orgkb://documents/handbook/onboarding.md"]
    templates = results["resources/templates/list"]["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == ["orgkb://documents/{source}/{+key}"]
    prompts = {p["name"]: p for p in results["prompts/list"]["prompts"]}
    assert [a["name"] for a in prompts["summarise_document"]["arguments"]] == ["uri"]
    assert {a["name"] for a in prompts["answer_with_citations"]["arguments"]} == {"question", "source"}

    search = _result(_start(inspector, config, "tools/call", "--tool-name", "search", "--tool-arg", "query=where do I get my laptop"))
    top = search["structuredContent"]["hits"][0]
    assert hit_doc_id(top) == "handbook:onboarding.md" and "IT desk" in top["text"]
    assert any(c["type"] == "resource_link" and c["uri"] == "orgkb://documents/handbook/onboarding.md" for c in search["content"])
