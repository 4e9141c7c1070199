"""SMB shares against a real Samba server: search, edits, deletions, errors that change nothing."""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

import pytest

from orgkb.connectors.base import ConnectorError, CredentialsError
from orgkb.connectors.smb import SmbConfig, SmbConnector
from orgkb.server.embedding.embedder import Embedder, HashingEmbedder
from orgkb.server.index.indexer import Indexer, SourceSummary
from orgkb.server.search.searcher import Searcher
from tests.conftest import IndexFactory
from tests.samba_server import SambaServer

PASSWORD_ENV = "ORGKB_TEST_SMB_PASSWORD"


@pytest.fixture
def folder(samba: SambaServer, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A folder of the share for this test alone, and the password in its environment variable."""
    monkeypatch.setenv(PASSWORD_ENV, samba.password)
    return re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60]


def smb_source(samba: SambaServer, folder: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "share", "type": "smb", "server": "127.0.0.1", "port": samba.port, "share": "docs",
        "path": folder, "username": samba.user, "password_env": PASSWORD_ENV, "connect_retries": 1, **extra,
    }


def later() -> float:
    """A modification time clearly after anything written so far (mtime is part of the version stamp)."""
    later.tick = getattr(later, "tick", time.time()) + 10  # type: ignore[attr-defined]
    return later.tick  # type: ignore[attr-defined]


def test_share_is_searchable_and_follows_edits_and_deletions(
    samba: SambaServer, folder: str, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    samba.write(f"{folder}/policies/remote-work.md",
                "# Remote work\n\nYou may work from home up to three days a week.\n\n"
                "## Equipment\n\nEmployees who work from home get a budget of 400 euros for a desk chair and a monitor.\n")
    samba.write(f"{folder}/it/printers.txt", "The third-floor printer in Lisbon is called LIS-PR-03. Toner is in the cupboard.\n")
    samba.write(f"{folder}/it/scratch.tmp", "temporary file the default excludes drop\n")
    samba.write(f"{folder}/it/debug.log", "a log the source's exclude drops\n")
    samba.write(f"{folder}/.orgkbignore", "archive/\n")
    samba.write(f"{folder}/archive/old-policy.md", "# Old policy\n\nThe home office budget was 150 euros.\n")
    index = make_index([smb_source(samba, folder, exclude=["*.log"])], real_embedder)

    first = Indexer(index).run().sources[0]
    assert (first.error, first.added, first.failed) == (None, 2, 0)
    assert set(index.catalog.document_states("share")) == {"policies/remote-work.md", "it/printers.txt"}

    hit = Searcher(index).search("budget for a desk chair when working from home", limit=3).hits[0]
    assert hit.doc_id == "share:policies/remote-work.md"
    assert hit.uri == f"smb://127.0.0.1:{samba.port}/docs/{folder}/policies/remote-work.md"
    assert hit.heading_path[-1] == "Equipment"
    assert "400 euros" in hit.text

    again = Indexer(index).run().sources[0]
    assert (again.unchanged, again.chunks_embedded) == (2, 0)

    samba.write(f"{folder}/policies/remote-work.md",
                "# Remote work\n\nYou may work from home up to three days a week.\n\n"
                "## Equipment\n\nEmployees who work from home get a budget of 650 euros for a desk chair and a monitor.\n",
                mtime=later())
    edited = Indexer(index).run().sources[0]
    assert (edited.updated, edited.unchanged, edited.deleted) == (1, 1, 0)
    for mode in ("hybrid", "semantic", "keyword"):
        hits = Searcher(index).search("home office desk chair budget euros", limit=5, mode=mode).hits
        assert any("650 euros" in h.text for h in hits), mode
        assert all("400 euros" not in h.text for h in hits), mode

    (samba.share / folder / "it" / "printers.txt").unlink()
    removed = Indexer(index).run().sources[0]
    assert removed.deleted == 1
    for mode in ("hybrid", "semantic", "keyword"):
        hits = Searcher(index).search("printer on the third floor in Lisbon", limit=5, mode=mode).hits
        assert all(h.doc_id != "share:it/printers.txt" for h in hits), mode


def test_wrong_password_is_one_clear_error_and_changes_nothing(
    samba: SambaServer, folder: str, make_index: IndexFactory, real_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    samba.write(f"{folder}/canteen.md", "# Canteen\n\nLunch is served from noon until two in the Berlin canteen.\n")
    index = make_index([smb_source(samba, folder)], real_embedder)
    Indexer(index).run()
    (samba.share / folder / "canteen.md").unlink()  # a deletion that must not be applied on a failed login

    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    failed = Indexer(index).run().sources[0]
    assert failed.error is not None
    assert "rejected the login" in failed.error and PASSWORD_ENV in failed.error
    assert "not-the-password" not in failed.error
    assert index.catalog.counts()["share"][0] == 1
    assert index.catalog.source_state("share").last_error == failed.error
    assert Searcher(index).search("when is lunch served", limit=1).hits[0].doc_id == "share:canteen.md"


def test_unreadable_folder_and_file_keep_their_documents(
    samba: SambaServer, folder: str, make_index: IndexFactory, hashing_embedder: HashingEmbedder
) -> None:
    samba.write(f"{folder}/hr/salaries.md", "# Salary bands\n\nBand 3 starts at 58,000 euros.\n")
    samba.write(f"{folder}/guide.md", "# Guide\n\nHow to book a meeting room.\n")
    index = make_index([smb_source(samba, folder)], hashing_embedder)
    assert Indexer(index).run().total("added") == 2

    # The share's user loses access to a folder, and to a file that changed meanwhile.
    (samba.share / folder / "hr").chmod(0o700)
    os.chown(samba.share / folder / "hr", 0, 0)
    samba.write(f"{folder}/guide.md", "# Guide\n\nRooms are booked in the calendar.\n", mtime=later())
    (samba.share / folder / "guide.md").chmod(0o000)
    os.chown(samba.share / folder / "guide.md", 0, 0)
    summary = Indexer(index).run().sources[0]
    failures = {f.key: f.message for f in summary.failures}
    assert "ACCESS_DENIED" in failures["hr/"]
    assert "guide.md" in failures
    assert summary.deleted == 0
    assert index.catalog.get_document("share:hr/salaries.md") is not None
    guide = index.catalog.get_document("share:guide.md")
    assert guide is not None and "meeting room" in guide.as_document().text


def test_server_down_mid_sync_changes_nothing_and_the_next_sync_resumes(
    samba: SambaServer, folder: str, make_index: IndexFactory, hashing_embedder: HashingEmbedder
) -> None:
    for name in ("a", "b", "c"):
        samba.write(f"{folder}/{name}/notes.md", f"# Notes {name}\n\nMeeting notes of team {name}.\n")
    index = make_index([smb_source(samba, folder)], hashing_embedder)
    Indexer(index).run()
    samba.write(f"{folder}/c/notes.md", "# Notes c\n\nTeam c moved its meetings to Tuesday.\n", mtime=later())
    (samba.share / folder / "b" / "notes.md").unlink()

    class StopServer:
        """Stops smbd after the first document of the sync is handled."""

        def start_source(self, source: str) -> None:
            pass

        def advance(self, source: str, documents: int, detail: str) -> None:
            samba.stop()

        def end_source(self, summary: SourceSummary) -> None:
            pass

    try:
        down = Indexer(index, progress=StopServer()).run().sources[0]
    finally:
        samba.start()
    assert down.error is not None and "cannot reach SMB server" in down.error
    assert (down.deleted, down.updated) == (0, 0)
    assert index.catalog.counts()["share"][0] == 3

    resumed = Indexer(index).run().sources[0]
    assert (resumed.error, resumed.updated, resumed.deleted, resumed.unchanged) == (None, 1, 1, 1)


def test_connection_setup_is_retried_while_the_server_starts(samba: SambaServer, folder: str) -> None:
    samba.write(f"{folder}/readme.md", "# Readme\n")
    connector = SmbConnector(SmbConfig.model_validate(smb_source(samba, folder, connect_retries=4)))
    samba.stop()
    restart = threading.Timer(0.3, samba.start)
    restart.start()
    try:
        assert connector.check() == []
    finally:
        restart.join()
        if samba.process is None or samba.process.poll() is not None:
            samba.start()
    assert [ref.key for ref in connector.list_documents()] == ["readme.md"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"port": 9}, ConnectorError, "cannot reach SMB server 127.0.0.1:9"),
        ({"share": "nosuch"}, ConnectorError, "share 'nosuch' not found"),
        ({"password_env": "ORGKB_TEST_SMB_WRONG"}, CredentialsError, "rejected the login"),
        ({"share": "vault", "path": ""}, ConnectorError, "may not open share 'vault'"),
        ({"path": "no/such/folder"}, ConnectorError, "folder 'no/such/folder' in share 'docs' not found"),
        ({"password_env": "ORGKB_TEST_SMB_UNSET"}, CredentialsError, "ORGKB_TEST_SMB_UNSET"),
    ],
)
def test_check_names_each_problem(
    samba: SambaServer, folder: str, monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any], error: type[Exception], message: str,
) -> None:
    samba.write(f"{folder}/readme.md", "# Readme\n")
    monkeypatch.setenv("ORGKB_TEST_SMB_WRONG", "wrong-password")
    monkeypatch.delenv("ORGKB_TEST_SMB_UNSET", raising=False)
    assert SmbConnector(SmbConfig.model_validate(smb_source(samba, folder))).check() == []
    with pytest.raises(error, match=re.escape(message)) as raised:
        SmbConnector(SmbConfig.model_validate(smb_source(samba, folder, **change))).check()
    assert "\n" not in str(raised.value)
