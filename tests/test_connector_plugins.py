"""A third party adds a source type by installing a distribution: orgkb itself is not edited.

The plug-in is a real distribution with an ``orgkb.connectors`` entry point, installed with
pip into a fresh virtual environment that sees orgkb (and its dependencies) from this one;
`orgkb index` and `orgkb search` in that environment use it. Without it, the type is unknown.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

PLUGIN = '''
"""Notes written straight into the config: the smallest useful orgkb connector."""

from collections.abc import Iterator

from orgkb.connectors.base import BaseConnector, ConnectorType, Document, DocumentRef, Failure, Section, SourceConfig


class NotesConfig(SourceConfig):
    notes: dict[str, str]


class NotesConnector(BaseConnector):
    closed = 0

    def __init__(self, config: NotesConfig) -> None:
        self.config = config

    def check(self) -> list[str]:
        return []

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        for title, text in self.config.notes.items():
            yield DocumentRef(key=title.lower().replace(" ", "-"), version=str(hash(text)))

    def load(self, ref: DocumentRef) -> Document:
        title = next(t for t in self.config.notes if t.lower().replace(" ", "-") == ref.key)
        return Document(
            source=self.config.name, key=ref.key, title=title, uri=f"notes://{ref.key}",
            sections=[Section(text=self.config.notes[title])],
        )

    def close(self) -> None:
        print("notes connector closed", flush=True)


CONNECTOR = ConnectorType(type="notes", config_model=NotesConfig, factory=NotesConnector, description="Notes in the config.")
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "orgkb-notes-plugin"
version = "1.0"

[project.entry-points."orgkb.connectors"]
notes = "orgkb_notes_plugin:CONNECTOR"

[tool.setuptools]
packages = ["orgkb_notes_plugin"]
'''

CONFIG = '''
data_dir = "index"

[[sources]]
name = "team-notes"
type = "notes"

[sources.notes]
"Parking rules" = "Visitors park on level minus two; staff badges open the barrier."
"Coffee machine" = "Descale the coffee machine every Friday afternoon."
'''


def _venv_seeing_this_one(path: Path) -> Path:
    """A new virtual environment whose Python also finds this environment's packages (orgkb included)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    ours = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if os.path.isdir(p)]
    # addsitedir also runs this environment's .pth files, which is how the editable orgkb is found.
    Path(purelib, "zz_parent_environment.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in ours))
    return python


def test_an_installed_plugin_adds_a_source_type(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    (plugin / "orgkb_notes_plugin").mkdir(parents=True)
    (plugin / "orgkb_notes_plugin" / "__init__.py").write_text(PLUGIN)
    (plugin / "pyproject.toml").write_text(PYPROJECT)
    work = tmp_path / "work"
    work.mkdir()
    config = work / "orgkb.toml"
    config.write_text(CONFIG)
    env = subprocess_env()

    # This environment does not have the plug-in: the config is refused in one line.
    refused = subprocess.run(
        [sys.executable, "-m", "orgkb.server", "--config", str(config), "status"], capture_output=True, text=True, env=env, cwd=work
    )
    assert refused.returncode == 2 and "unknown source type 'notes'" in refused.stderr and "Traceback" not in refused.stderr

    python = _venv_seeing_this_one(tmp_path / "venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-build-isolation", str(plugin)],
        check=True, env=env, capture_output=True,
    )
    indexed = subprocess.run(
        [str(python), "-m", "orgkb.server", "--config", str(config), "index"], capture_output=True, text=True, env=env, cwd=work
    )
    assert indexed.returncode == 0, indexed.stderr
    assert indexed.stdout.count("notes connector closed") == 1  # opened once for the sync, closed once
    found = subprocess.run(
        [str(python), "-m", "orgkb.server", "--config", str(config), "search", "where do visitors leave their car", "--json"],
        capture_output=True, text=True, env=env, cwd=work,
    )
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert hits[0]["title"] == "Parking rules" and hits[0]["uri"] == "notes://parking-rules"
