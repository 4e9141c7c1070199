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


# --- gitignore semantics (pathspec) ------------------------------------------------------------


def _tree(root: Path, files: list[str]) -> None:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("text")


def test_ignore_files_follow_gitignore_exactly(tmp_path: Path) -> None:
    _tree(tmp_path, ["drafts/a.md", "sub/drafts/b.md", "#hash.md", "plain.md", "trail.md", "space .md",
                     "keep.log.md", "x.log.md", "deep/one/two/z.md", "deep/z.md", "docs/z.md"])  # fmt: skip
    (tmp_path / ".orgkbignore").write_text(
        "/drafts\n"          # anchored: only the top-level folder
        "\\#hash.md\n"       # an escaped #, not a comment
        "# a comment line\n"
        "trail.md   \n"      # trailing blanks are not part of the pattern
        "space\\ .md\n"      # an escaped trailing blank is
        "*.log.md\n!keep.log.md\n"
        "deep/**/z.md\n"
    )  # fmt: skip
    keys, failures = _listing(_connector(tmp_path))
    assert keys == ["docs/z.md", "keep.log.md", "plain.md", "sub/drafts/b.md"]
    assert failures == {}


def test_a_deeper_ignore_file_overrides_an_outer_one(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.tmp.md", "team/b.tmp.md", "team/c.md"])
    (tmp_path / ".orgkbignore").write_text("*.tmp.md\n")
    (tmp_path / "team" / ".orgkbignore").write_text("!b.tmp.md\nc.md\n")
    keys, _ = _listing(_connector(tmp_path))
    assert keys == ["team/b.tmp.md"]


def test_backtracking_patterns_match_in_linear_time() -> None:
    # With a backtracking matcher each of these takes longer than the age of the universe.
    pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"
    assert matches("a" * 250, [pattern]) is False
    assert matches("a" * 250 + "b", [pattern]) is True
    assert matches("x/" * 1000 + "a" * 200, ["**/" + pattern]) is False


def test_pathological_ignore_file_does_not_stall_the_listing(tmp_path: Path) -> None:
    from tests.hostile_files import pathological_ignore

    long_name = pathological_ignore(tmp_path)
    (tmp_path / ("a" * 200 + "b")).write_text("ignored: the pattern matches")
    keys, failures = _listing(_connector(tmp_path))
    assert keys == [long_name.name]
    assert failures == {}  # not even reported as unsupported: the ignore file left it out


# --- entries that are not documents ------------------------------------------------------------


def test_odd_entries_are_reported_one_by_one_and_never_opened(tmp_path: Path) -> None:
    from tests.hostile_files import fifo, symlink_loop, unix_socket

    symlink_loop(tmp_path)
    fifo(tmp_path)
    _, server = unix_socket(tmp_path)
    os.symlink(tmp_path / "missing.md", tmp_path / "dangling.md")
    (tmp_path / "ok.md").write_text("# ok")
    (tmp_path / "unselected.fifo").parent.mkdir(exist_ok=True)
    os.mkfifo(tmp_path / "unselected.fifo")
    try:
        keys, failures = _listing(_connector(tmp_path, include=["*.md", "*.txt"]))
    finally:
        server.close()
    assert keys == ["ok.md"]
    assert failures == {
        "loop-a.md": "skipped: a symlink loop",
        "loop-b.md": "skipped: a symlink loop",
        "pipe.md": "skipped: a FIFO (named pipe), not a regular file",
        "socket.txt": "skipped: a socket, not a regular file",
        "dangling.md": "skipped: a broken symlink",
    }  # a FIFO the include globs leave out is not mentioned at all


def test_a_file_replaced_by_a_fifo_after_listing_fails_without_blocking(tmp_path: Path) -> None:
    from orgkb.connectors.base import DocumentError

    (tmp_path / "doc.md").write_text("# doc")
    connector = _connector(tmp_path)
    keys, _ = _listing(connector)
    assert keys == ["doc.md"]
    (tmp_path / "doc.md").unlink()
    os.mkfifo(tmp_path / "doc.md")  # nobody will ever write to it
    with pytest.raises(DocumentError, match="a FIFO \\(named pipe\\), not a regular file"):
        connector.load(DocumentRef(key="doc.md"))


def test_a_file_that_grew_past_max_file_size_is_not_read_whole(tmp_path: Path) -> None:
    from orgkb.connectors.base import DocumentError

    (tmp_path / "grow.txt").write_text("small")
    connector = _connector(tmp_path, max_file_size=1000)
    (tmp_path / "grow.txt").write_text("x" * 5000)
    with pytest.raises(DocumentError, match="grew over max_file_size"):
        connector.load(DocumentRef(key="grow.txt"))


def test_unsupported_files_are_skipped_without_being_opened(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "photo.jpg").chmod(0)  # would fail to open, if anything tried
    keys, failures = _listing(_connector(tmp_path))
    assert keys == [] and failures == {"photo.jpg": "unsupported file type '.jpg'"}


@pytest.mark.parametrize("root", ["/proc", "/sys", "/dev", "/proc/self"])
def test_kernel_views_are_refused_as_roots(root: str) -> None:
    with pytest.raises(ValueError, match="kernel view"):
        FilesConfig.model_validate({"name": "s", "type": "files", "paths": [root]})


def test_the_whole_machine_needs_allow_system_root() -> None:
    with pytest.raises(ValueError, match="allow_system_root"):
        FilesConfig.model_validate({"name": "s", "type": "files", "paths": ["/"]})
    config = FilesConfig.model_validate({"name": "s", "type": "files", "paths": ["/"], "allow_system_root": True})
    # Even then /proc, /sys and /dev are listed as problems, never walked into.
    from orgkb.connectors.files import LocalTree

    entries = {e.path: e for e in LocalTree(config.paths[0], follow_symlinks=True).list_dir("")}
    for name in ("proc", "sys", "dev"):
        assert entries[name].problem is not None and "kernel view" in entries[name].problem


# --- names ----------------------------------------------------------------------------------------


def test_names_that_are_not_utf8_get_lossless_readable_keys(tmp_path: Path) -> None:
    from orgkb.connectors.files import os_path, readable_path

    for name in [b"caf\xe9.md", b"back\\xe9.md", b"two\\\\slashes\xff.md", b"end\\", b"\\\xe9", b"plain.md"]:
        decoded = os.fsdecode(name)
        key = readable_path(decoded)
        key.encode("utf-8")  # storable anywhere: valid Unicode
        assert os.fsencode(os_path(key)) == name
    assert readable_path(os.fsdecode(b"caf\xe9.md")) == "caf\\xe9.md"
    assert readable_path("a\\b.md") == "a\\b.md"  # ordinary names are their own keys

    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.md"), "w") as handle:
        handle.write("# Caf\nlatin-1 name\n")
    (tmp_path / "new\nline.md").write_text("# Newline\nin the name\n")
    connector = _connector(tmp_path)
    keys, failures = _listing(connector)
    assert keys == ["caf\\xe9.md", "new\nline.md"] and failures == {}
    assert "latin-1 name" in connector.load(DocumentRef(key="caf\\xe9.md")).text
    assert "in the name" in connector.load(DocumentRef(key="new\nline.md")).text
