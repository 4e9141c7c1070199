"""Live sync logic: debouncing, ignored files, moves, polling, the writer lock, consistent reads.

These exercise the scheduling and consistency logic with real watchdog (inotify), real Chroma
and the hashing embedder (meaning does not matter here); the user-facing path with the real
model is covered through `orgkb serve` in test_mcp_live.py and test_mcp_http.py.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer, SourceSummary
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.indexer import IndexChange
from orgkb.server.index.live import LiveIndex
from orgkb.server.search.searcher import Searcher
from orgkb.server.app.service import OrgkbService
from tests.conftest import IndexFactory, orgkb_command, subprocess_env, toml_value, write_config


class Recorder:
    """A `LiveListener` that keeps every event, thread-safely."""

    def __init__(self) -> None:
        self.changes: list[IndexChange] = []
        self.syncs: list[SourceSummary] = []
        self.lock = threading.Lock()

    def documents_changed(self, change: IndexChange) -> None:
        with self.lock:
            self.changes.append(change)

    def sync_finished(self, summary: SourceSummary) -> None:
        with self.lock:
            self.syncs.append(summary)

    def ids(self, kind: str) -> set[str]:
        with self.lock:
            return {doc_id for change in self.changes for doc_id in getattr(change, kind)}


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nThe first version of document A.\n", encoding="utf-8")
    (root / "b.md").write_text("# B\n\nDocument B talks about the canteen.\n", encoding="utf-8")
    return root


def _live(index: KnowledgeIndex, **settings: object) -> tuple[LiveIndex, Recorder]:
    options = {"debounce_seconds": 0.4, "max_delay_seconds": 5.0, "retry_seconds": 0.5, **settings}
    live = LiveIndex(index, index.config.server.live.model_copy(update=options))
    recorder = Recorder()
    live.add_listener(recorder)
    return live, recorder


@pytest.fixture
def running() -> Iterator[list[LiveIndex]]:
    started: list[LiveIndex] = []
    yield started
    for live in started:
        live.stop()


def test_a_burst_of_saves_is_one_sync_and_scratch_files_and_the_data_dir_are_ignored(
    docs: Path, make_index: IndexFactory, running: list[LiveIndex]
) -> None:
    # The index lives inside the watched folder: its own writes must not trigger syncs (a loop).
    config_path = write_config(docs.parent / "orgkb.toml", [{"name": "docs", "type": "files", "paths": [str(docs)], "exclude": ["index-data/"]}])
    config_path.write_text(config_path.read_text().replace(f"data_dir = {toml_value(docs.parent / 'data')}", f"data_dir = {toml_value(docs / 'index-data')}"))
    index = KnowledgeIndex(load_config(config_path), embedder=HashingEmbedder())
    assert index.data_dir == docs / "index-data"
    live, recorder = _live(index)
    live.start()
    running.append(live)
    assert wait_for(lambda: len(recorder.syncs) == 1), "no catch-up sync at start"
    assert (docs / "index-data" / "catalog.sqlite3").exists()
    assert recorder.ids("added") == {"docs:a.md", "docs:b.md"}
    time.sleep(1.5)
    assert len(recorder.syncs) == 1, "the index's own writes triggered a sync"

    for version in range(6):
        (docs / "a.md").write_text(f"# A\n\nVersion {version} of document A.\n", encoding="utf-8")
        time.sleep(0.05)
    assert wait_for(lambda: len(recorder.syncs) == 2)
    time.sleep(1.0)
    assert len(recorder.syncs) == 2, "a burst of saves should be one sync"
    assert recorder.syncs[1].updated == 1 and recorder.syncs[1].unchanged == 1
    assert "Version 5" in OrgkbService(index).local().fetch("docs:a.md").text

    for scratch in (".a.md.swp", "4913", "a.md~", "~$report.docx", ".#a.md"):
        (docs / scratch).write_text("scratch", encoding="utf-8")
    time.sleep(1.5)
    assert len(recorder.syncs) == 2, "editor scratch files triggered a sync"


def test_create_rename_and_delete_reach_the_index(docs: Path, make_index: IndexFactory, running: list[LiveIndex]) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], HashingEmbedder())
    Indexer(index).run()
    live, recorder = _live(index, catch_up=False)
    live.start()
    running.append(live)
    time.sleep(0.5)  # watches are set up in the sync thread

    (docs / "new").mkdir()
    (docs / "new" / "c.md").write_text("# C\n\nA brand new document about parking.\n", encoding="utf-8")
    assert wait_for(lambda: "docs:new/c.md" in recorder.ids("added"))
    assert Searcher(index).search("parking", mode="keyword").hits[0].doc_id == "docs:new/c.md"

    (docs / "new").rename(docs / "moved")
    assert wait_for(lambda: "docs:new/c.md" in recorder.ids("deleted") and "docs:moved/c.md" in recorder.ids("added"))

    (docs / "b.md").unlink()
    assert wait_for(lambda: "docs:b.md" in recorder.ids("deleted"))
    assert index.catalog.get_document("docs:b.md") is None
    assert {h.doc_id for h in Searcher(index).search("canteen", mode="keyword").hits} == set()


def test_sources_without_watching_sync_on_their_interval(docs: Path, make_index: IndexFactory, running: list[LiveIndex]) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)], "sync_interval": 0.5}], HashingEmbedder())
    live, recorder = _live(index, watch=False)
    live.start()
    running.append(live)
    assert wait_for(lambda: len(recorder.syncs) >= 1)
    assert live.status().sources[0].watching == []
    (docs / "c.md").write_text("# C\n\nPolled, not watched.\n", encoding="utf-8")
    assert wait_for(lambda: "docs:c.md" in recorder.ids("added"), timeout=5)


def test_the_writer_lock_keeps_one_writer_and_live_sync_waits_for_it(
    docs: Path, make_index: IndexFactory, running: list[LiveIndex]
) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], HashingEmbedder())
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from orgkb.server.index.writer_lock import WriterLock; "
         f"lock = WriterLock(Path({str(index.data_dir)!r})); assert lock.try_acquire('orgkb index'); "
         "print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=subprocess_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        live, recorder = _live(index)
        live.start()
        running.append(live)
        assert wait_for(lambda: "orgkb index (pid" in live.status().writer)
        time.sleep(1.0)
        assert recorder.syncs == [], "synced while another process held the writer lock"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert wait_for(lambda: len(recorder.syncs) == 1), "live sync did not resume after the lock was released"
    assert live.status().writer.startswith("this server")
    assert index.catalog.get_document("docs:a.md") is not None

    # Now this process is the writer: a second writer (the CLI) is refused with a clear message.
    result = subprocess.run(
        orgkb_command("--config", str(index.config_path), "index"),  # type: ignore[attr-defined]
        capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )
    assert result.returncode == 2
    assert "orgkb serve (pid" in result.stderr and "Traceback" not in result.stderr


def test_search_during_rewrites_sees_each_document_whole(tmp_path: Path, make_index: IndexFactory) -> None:
    """Hammer search while a document is rewritten: every answer shows one version of it, never a mix."""
    docs = tmp_path / "docs"
    docs.mkdir()
    sections = 520  # more chunks than one catalog read batch (500)

    def write(version: int) -> None:
        body = "\n\n".join(f"## Part {n}\n\nmarker v{version} paragraph {n} of the rotating handbook." for n in range(sections))
        (docs / "rotating.md").write_text(f"# Rotating handbook\n\n{body}\n", encoding="utf-8")

    write(0)
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], HashingEmbedder(), search={"max_limit": 1000})
    Indexer(index).run()
    searcher = Searcher(index)
    seen: set[str] = set()
    mixed: list[str] = []
    stop = threading.Event()

    def read() -> None:
        modes = ["keyword", "semantic", "hybrid"]
        turn = 0
        while not stop.is_set():
            mode = modes[turn % 3]
            turn += 1
            hits = searcher.search("marker rotating handbook paragraph", limit=600, mode=mode, max_chunks_per_document=600).hits
            versions = {word for hit in hits for word in hit.text.split() if word.startswith("v") and word[1:].isdigit()}
            seen.update(versions)
            if len(versions) > 1:
                mixed.append(f"{mode}: {sorted(versions)}")
            text = OrgkbService(index).local().fetch("docs:rotating.md", max_chars=10**7).text
            if len({word for word in text.split() if word.startswith("v") and word[1:].isdigit()}) != 1:
                mixed.append("fetch")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for version in range(1, 7):
            write(version)
            time.sleep(0.01)
            assert Indexer(index).run().total("updated") == 1
            # Let the readers catch this version before the next rewrite (parsing runs outside
            # this process now, so a rewrite no longer waits for the readers' share of the GIL).
            deadline = time.monotonic() + 10
            while f"v{version}" not in seen and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert not mixed, mixed[:5]
    assert len(seen) >= 3, f"the readers saw too few versions to prove anything: {seen}"


def test_markdown_wiki_folders_are_watched_too(tmp_path: Path, make_index: IndexFactory, running: list[LiveIndex]) -> None:
    wiki = tmp_path / "vault"
    wiki.mkdir()
    (wiki / "Home.md").write_text("# Home\n\nSee [[Parking]].\n", encoding="utf-8")
    index = make_index([{"name": "vault", "type": "markdown_wiki", "path": str(wiki)}], HashingEmbedder())
    Indexer(index).run()
    live, recorder = _live(index, catch_up=False)
    live.start()
    running.append(live)
    assert wait_for(lambda: live.status().sources[0].watching != [])
    (wiki / "Parking.md").write_text("# Parking\n\nBicycles go in the courtyard rack.\n", encoding="utf-8")
    assert wait_for(lambda: "vault:Parking.md" in recorder.ids("added"))
    assert Searcher(index).search("courtyard bicycles", mode="keyword").hits[0].doc_id == "vault:Parking.md"
