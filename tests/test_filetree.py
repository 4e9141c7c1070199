"""File selection: globs, ignore files, size limits and symlinks that must not escape."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orgkb.connectors.base import DocumentRef, Failure
from orgkb.connectors.files import FilesConfig, FilesConnector
from orgkb.connectors.filetree import matches


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.md", "a.md", True),
        ("*.md", "x/y/a.md", True),
        ("docs/*.md", "docs/a.md", True),
        ("docs/*.md", "docs/sub/a.md", False),
        ("docs/**/*.md", "docs/sub/deep/a.md", True),
        ("docs/**/*.md", "docs/a.md", True),
        ("build/", "build/x.txt", True),
        ("build/", "src/build/x.txt", True),
        ("build/", "buildings.txt", False),
        ("**", "anything/at/all.txt", True),
        ("~$*", "folder/~$report.docx", True),
        ("secret?.txt", "secret1.txt", True),
        ("[ab].txt", "c.txt", False),
    ],
)
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert matches(path, [pattern]) is expected


def _connector(root: Path, **settings: object) -> FilesConnector:
    config = FilesConfig.model_validate({"name": "share", "type": "files", "paths": [str(root)], **settings})
    return FilesConnector(config)


def _listing(connector: FilesConnector) -> tuple[list[str], dict[str, str]]:
    refs, failures = [], {}
    for item in connector.list_documents():
        if isinstance(item, DocumentRef):
            refs.append(item.key)
        else:
            assert isinstance(item, Failure)
            failures[item.key] = item.message
    return sorted(refs), failures


def test_include_exclude_and_nested_ignore_files(tmp_path: Path) -> None:
    for rel in ["a.md", "b.txt", "drafts/c.md", "drafts/keep.md", "team/d.md", "team/tmp/e.md", ".git/config", "x.md~"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("text")
    (tmp_path / ".orgkbignore").write_text("# drafts are private\ndrafts/\n!drafts/keep.md\n")
    (tmp_path / "team" / ".orgkbignore").write_text("tmp/\n")
    keys, failures = _listing(_connector(tmp_path, include=["**/*.md"]))
    # A negation cannot re-include a file inside an excluded folder (as in git): keep.md stays out.
    assert keys == ["a.md", "team/d.md"]
    assert failures == {}
    keys, _ = _listing(_connector(tmp_path, exclude=["team/"]))
    assert keys == ["a.md", "b.txt"]


def test_oversize_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "small.txt").write_text("x")
    (tmp_path / "big.txt").write_text("x" * 2000)
    keys, failures = _listing(_connector(tmp_path, max_file_size=1000))
    assert keys == ["small.txt"]
    assert "over max_file_size" in failures["big.txt"]


def test_symlinks_never_lead_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "inner").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("password=hunter2")
    (root / "inner" / "note.txt").write_text("hello")
    os.symlink(outside / "secret.txt", root / "leak.txt")
    os.symlink(outside, root / "leakdir")
    os.symlink(root / "inner" / "note.txt", root / "alias.txt")
    os.symlink(root, root / "inner" / "loop")
    connector = _connector(root)
    keys, failures = _listing(connector)
    assert keys == ["alias.txt", "inner/note.txt"]
    assert set(failures) == {"leak.txt", "leakdir"}
    assert all("outside the source root" in m for m in failures.values())
    # Even a forged ref cannot read through a link out of the root.
    from orgkb.connectors.base import DocumentError

    with pytest.raises(DocumentError):
        connector.load(DocumentRef(key="leak.txt"))


def test_unreadable_folder_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inside.txt").write_text("hidden")
    (tmp_path / "ok.txt").write_text("fine")
    if os.geteuid() == 0:
        # Root reads any folder, so make the OS call fail as it would for another user.
        real_scandir = os.scandir

        def scandir(path: object) -> object:
            if str(path).endswith("locked"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        (tmp_path / "locked").chmod(0)
    try:
        keys, failures = _listing(_connector(tmp_path))
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert keys == ["ok.txt"]
    assert "cannot list folder: Permission denied" in failures["locked/"]


def test_several_roots_get_distinct_key_prefixes(tmp_path: Path) -> None:
    for name in ("policies", "runbooks"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.md").write_text(f"# {name}")
    config = FilesConfig.model_validate(
        {"name": "s", "type": "files", "paths": [str(tmp_path / "policies"), str(tmp_path / "runbooks")]}
    )
    connector = FilesConnector(config)
    keys, _ = _listing(connector)
    assert keys == ["policies/index.md", "runbooks/index.md"]
    assert connector.load(DocumentRef(key="runbooks/index.md")).title == "runbooks"
