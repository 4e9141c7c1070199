"""The package list in pyproject.toml names every folder of the two packages (none is left out of a wheel)."""

from __future__ import annotations

import tomllib

from tests.conftest import PROJECT_ROOT


def test_every_subpackage_is_installed_under_the_orgkb_namespace() -> None:
    setup = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(setup["packages"])
    found = {
        "orgkb." + ".".join(init.parent.relative_to(PROJECT_ROOT).parts)
        for top in ("server", "connectors", "sample_docs")
        for init in (PROJECT_ROOT / top).rglob("__init__.py")
        if ".orgkb" not in init.parts and "__pycache__" not in init.parts
    }
    assert declared == found
    # Installed as orgkb.*, never as the generic top-level names.
    assert all(not name.startswith(("server", "connectors")) for name in declared)
    assert setup["package-dir"] == {"orgkb.server": "server", "orgkb.connectors": "connectors", "orgkb.sample_docs": "sample_docs"}
