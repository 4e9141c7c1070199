"""The built wheel (from the sdist) works from anywhere: installed into a fresh venv with no
checkout on the path, `orgkb init` over a folder, `index`, `search`, `init --sample`, and `serve`
over stdio to a real SDK client. Next to it, a distribution with top-level `server` and
`connectors` packages installs and imports without clashing (the rename to `orgkb.*`).

The fresh venv borrows this venv's third-party packages through a `.pth` line (installing torch
anew takes minutes); orgkb itself comes only from the wheel, which the test checks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import PROJECT_ROOT

CLASHING_PROJECT = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
    '[project]\nname = "generic-names"\nversion = "1.0"\n\n[tool.setuptools]\npackages = ["server", "connectors"]\n',
    "server/__init__.py": 'WHO = "generic-names server"\n',
    "connectors/__init__.py": 'WHO = "generic-names connectors"\n',
}


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel built from this checkout (the wheel is built from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(PROJECT_ROOT)], out, env)
    return out


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> tuple[Path, dict[str, str]]:
    """A new venv holding orgkb from the wheel alone, plus the clashing distribution; and its environment."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # Third-party packages from this venv; this venv's editable orgkb hook (a .pth there) is not run.
    (site / "_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    clashing = root / "generic-names"
    for name, text in CLASHING_PROJECT.items():
        (clashing / name).parent.mkdir(parents=True, exist_ok=True)
        (clashing / name).write_text(text, encoding="utf-8")
    [wheel] = dist.glob("orgkb-*.whl")
    env = {
        "HOME": str(root / "home"), "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False",
    }
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--no-build-isolation"]
    _run([*pip, str(wheel), str(clashing)], root, {**os.environ, "PYTHONPATH": ""})
    return venv, env


def test_the_sdist_and_wheel_carry_the_sample_company(dist: Path) -> None:
    [wheel] = dist.glob("orgkb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"orgkb/sample_docs/orgkb.toml", "orgkb/sample_docs/databases/brightwater.db",
            "orgkb/sample_docs/wiki/brightwater-wiki.xml", "orgkb/server/cli/init.py"} <= names
    assert not any(n.startswith(("server/", "connectors/", "tests/")) for n in names), "only orgkb.* at the top"
    assert any("entry_points.txt" in n for n in names)


@pytest.mark.slow
def test_init_index_search_and_serve_from_the_installed_wheel(fresh_venv: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    venv, env = fresh_venv
    orgkb = str(venv / "bin" / "orgkb")
    where = _run([str(venv / "bin" / "python"), "-c", "import orgkb.server, orgkb.connectors, server, connectors; "
                  "print(orgkb.server.__file__); print(orgkb.connectors.__file__); print(server.WHO); print(connectors.WHO)"],
                 tmp_path, env).stdout.splitlines()
    assert all(Path(p).is_relative_to(venv) for p in where[:2]), where
    assert where[2:] == ["generic-names server", "generic-names connectors"]
    assert _run([orgkb, "--version"], tmp_path, env).stdout.strip() == "orgkb 0.1.0"

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "parking.md").write_text("# Parking\n\nStaff park in garage B, level -2; badges open the gate.\n")
    _run([orgkb, "init", str(docs)], tmp_path, env)
    config = Path(env["HOME"]) / ".config" / "orgkb" / "orgkb.toml"
    assert f'paths = ["{docs}"]' in config.read_text(encoding="utf-8")
    _run([orgkb, "index"], tmp_path, env)
    hits = json.loads(_run([orgkb, "search", "where do staff park", "--json"], tmp_path, env).stdout)["hits"]
    assert hits[0]["uri"].endswith("parking.md") and "garage B" in hits[0]["text"]
    assert not (tmp_path / ".orgkb").exists(), "the index goes to the per-user data folder"

    sample = tmp_path / "sample"
    _run([orgkb, "init", "--sample", "--dest", str(sample)], tmp_path, env)
    status = json.loads(_run([orgkb, "--config", str(sample / "orgkb.toml"), "status", "--json"], tmp_path, env).stdout)
    assert [s["name"] for s in status["sources"]] == ["handbook", "it", "shared-drive", "team-wiki", "romania", "wiki-ro", "wiki", "company-db"]
    assert all(s["disabled"] is None for s in status["sources"])

    async def session() -> None:
        params = StdioServerParameters(command=orgkb, args=["serve", "--no-sync"], env=env, cwd=str(tmp_path))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            result: Any = await client.call_tool("search", {"query": "badges open the gate", "limit": 1})
            assert not result.is_error and result.structured_content["hits"][0]["source"] == "docs"

    anyio.run(session)
