"""Incremental indexing through the real model and a real embedded Chroma."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

import pytest

from orgkb.connectors import registry
from orgkb.connectors.base import Change, ConnectorType, Document, DocumentRef, Section, SourceConfig
from orgkb.connectors.filetree import FileEntry
from orgkb.server.embedding.embedder import Embedder, HashingEmbedder
from orgkb.server.errors import IndexMismatchError
from orgkb.server.index.indexer import Indexer
from orgkb.server.search.searcher import Searcher
from tests.conftest import IndexFactory


class CountingEmbedder:
    """Wraps the real model and counts the texts it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.embedded: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts)


def _touch_later(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    later = time.time() + 5
    os.utime(path, (later, later))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "it").mkdir(parents=True)
    (root / "expenses.md").write_text(
        "# Expense policy\n\nExpenses over the limit are approved by the department head.\n\n"
        "## Receipts\n\nKeep every receipt for seven years.\n",
        encoding="utf-8",
    )
    (root / "it" / "vpn.md").write_text(
        "# VPN\n\nInstall the WireGuard client and import the profile from the IT portal.\n", encoding="utf-8"
    )
    (root / "canteen.txt").write_text("The canteen serves lunch from noon until two.\n", encoding="utf-8")
    return root


def test_second_run_embeds_nothing_and_edits_embed_only_that_file(
    docs: Path, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    embedder = CountingEmbedder(real_embedder)
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], embedder)
    first = Indexer(index).run()
    assert (first.total("added"), first.total("failed")) == (3, 0)
    assert len(embedder.embedded) == first.total("chunks_embedded") >= 4

    embedder.embedded.clear()
    second = Indexer(index).run()
    assert (second.total("unchanged"), second.total("chunks_embedded")) == (3, 0)
    assert embedder.embedded == []

    # Touching a file without changing it costs a read and a hash, but no embedding.
    os.utime(docs / "canteen.txt", (time.time() + 10, time.time() + 10))
    touched = Indexer(index).run()
    assert (touched.total("unchanged"), touched.total("chunks_embedded")) == (3, 0)

    _touch_later(docs / "it" / "vpn.md", "# VPN\n\nUse the OpenVPN client with the company certificate.\n")
    third = Indexer(index).run()
    assert (third.total("updated"), third.total("unchanged")) == (1, 2)
    assert embedder.embedded and all("VPN" in text for text in embedder.embedded)
    hits = Searcher(index).search("which VPN client should I install", limit=3).hits
    assert hits[0].doc_id == "docs:it/vpn.md"
    assert "OpenVPN" in hits[0].text
    assert all("WireGuard" not in h.text for h in hits)
    # The old version's vectors are gone, not merely hidden.
    assert index.store.count() == sum(chunks for _, chunks in index.catalog.counts().values())


def test_deleted_file_disappears_from_results(docs: Path, make_index: IndexFactory, real_embedder: Embedder) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], real_embedder)
    Indexer(index).run()
    assert Searcher(index).search("when is lunch served", limit=1).hits[0].doc_id == "docs:canteen.txt"
    (docs / "canteen.txt").unlink()
    summary = Indexer(index).run()
    assert summary.total("deleted") == 1
    for mode in ("semantic", "keyword", "hybrid"):
        hits = Searcher(index).search("canteen lunch noon", limit=10, mode=mode).hits
        assert all(h.doc_id != "docs:canteen.txt" for h in hits), mode
    assert index.catalog.get_document("docs:canteen.txt") is None


def test_corrupt_and_undecodable_files_are_reported_and_the_rest_indexes(
    docs: Path, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not a real pdf\n")
    (docs / "mojibake.txt").write_bytes(bytes(range(0x80, 0x100)) * 8)
    (docs / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(500))
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], real_embedder)
    summary = Indexer(index).run()
    source = summary.sources[0]
    assert source.error is None
    assert source.added == 3
    failed = {f.key: f.message for f in source.failures if not f.skipped}
    skipped = {f.key: f.message for f in source.failures if f.skipped}
    assert set(failed) == {"broken.pdf", "mojibake.txt"}
    assert "pdf" in failed["broken.pdf"].lower()
    assert "decode" in failed["mojibake.txt"].lower()
    assert "photo.jpg" in skipped
    # Failures are kept for `orgkb status` and the MCP list_sources tool.
    assert {f.key for f in index.catalog.failures("docs")} >= {"broken.pdf", "mojibake.txt"}
    # A file that becomes broken keeps its last good version in the index.
    (docs / "canteen.txt").write_bytes(bytes(range(0x80, 0x100)) * 8)
    later = time.time() + 5
    os.utime(docs / "canteen.txt", (later, later))
    again = Indexer(index).run().sources[0]
    assert "canteen.txt" in {f.key for f in again.failures}
    assert again.deleted == 0
    assert index.catalog.get_document("docs:canteen.txt") is not None


def test_unlistable_folder_keeps_its_documents(
    docs: Path, make_index: IndexFactory, hashing_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], hashing_embedder)
    Indexer(index).run()
    from orgkb.connectors.files import LocalTree

    original = LocalTree.list_dir

    def flaky(self: LocalTree, path: str) -> list[FileEntry]:
        if path == "it":
            raise PermissionError(13, "Permission denied")
        return original(self, path)

    monkeypatch.setattr(LocalTree, "list_dir", flaky)
    summary = Indexer(index).run().sources[0]
    assert summary.deleted == 0
    assert "it/" in {f.key for f in summary.failures}
    assert index.catalog.get_document("docs:it/vpn.md") is not None


def test_missing_root_changes_nothing(docs: Path, make_index: IndexFactory, hashing_embedder: HashingEmbedder) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], hashing_embedder)
    Indexer(index).run()
    renamed = docs.with_name("moved")
    docs.rename(renamed)
    summary = Indexer(index).run().sources[0]
    assert summary.error is not None and "folder not found" in summary.error
    assert index.catalog.counts()["docs"][0] == 3
    assert index.catalog.source_state("docs").last_error == summary.error


def test_model_change_needs_a_full_reindex(docs: Path, make_index: IndexFactory, hashing_embedder: HashingEmbedder) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], hashing_embedder)
    Indexer(index).run()
    other = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], HashingEmbedder(dimension=32))
    with pytest.raises(IndexMismatchError, match="orgkb index --full"):
        Indexer(other).run()
    with pytest.raises(IndexMismatchError):
        Searcher(other).search("expenses", mode="semantic")
    rebuilt = Indexer(other).run(full=True)
    assert rebuilt.total("added") == 3
    assert other.catalog.get_meta("embedding_model") == "hashing-32"
    assert Searcher(other).search("receipt", mode="semantic").hits


def test_interrupted_write_leaves_no_visible_half_and_is_cleaned_up(
    docs: Path, make_index: IndexFactory, hashing_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], hashing_embedder)
    Indexer(index).run()
    before = index.store.count()
    _touch_later(docs / "expenses.md", "# Expense policy\n\nThe CFO approves every expense.\n")

    def crash(*args: object, **kwargs: object) -> list[str]:
        raise RuntimeError("power cut")

    monkeypatch.setattr(index.catalog, "write_documents", crash)
    failed = Indexer(index).run().sources[0]
    assert failed.error is not None and "power cut" in failed.error
    monkeypatch.undo()
    # New vectors reached Chroma but were never confirmed: search shows the old version only.
    assert index.store.count() > before
    hits = Searcher(index).search("who approves expenses", limit=5).hits
    assert any("department head" in h.text for h in hits)
    assert all("CFO" not in h.text for h in hits)
    # The next run removes the orphans and applies the edit.
    summary = Indexer(index).run()
    assert summary.total("updated") == 1
    assert index.store.count() == sum(chunks for _, chunks in index.catalog.counts().values())
    assert "CFO" in Searcher(index).search("who approves expenses", limit=1).hits[0].text


def test_full_run_reconciles_without_embedding_unchanged_documents(
    docs: Path, make_index: IndexFactory, hashing_embedder: HashingEmbedder
) -> None:
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], hashing_embedder)
    Indexer(index).run()
    hashing_embedder.embedded_texts.clear()
    full = Indexer(index).run(full=True).sources[0]
    assert (full.unchanged, full.chunks_embedded) == (3, 0)
    assert hashing_embedder.embedded_texts == []


def test_new_chunk_size_embeds_everything_again(docs: Path, make_index: IndexFactory, hashing_embedder: HashingEmbedder) -> None:
    source = {"name": "docs", "type": "files", "paths": [str(docs)]}
    index = make_index([source], hashing_embedder)
    Indexer(index).run()
    hashing_embedder.embedded_texts.clear()
    smaller = make_index([source], hashing_embedder, chunking={"max_tokens": 20})
    summary = Indexer(smaller).run().sources[0]
    assert summary.updated == 3 and hashing_embedder.embedded_texts
    hashing_embedder.embedded_texts.clear()
    assert Indexer(smaller).run().total("chunks_embedded") == 0


class _FeedConfig(SourceConfig):
    type: Literal["test_feed"] = "test_feed"


class _FeedConnector:
    """An in-memory source with a change feed that never reports deletions (like a purge)."""

    pages: ClassVar[dict[str, str]] = {}
    listings: ClassVar[int] = 0

    def __init__(self, config: _FeedConfig) -> None:
        self.config = config

    def check(self) -> list[str]:
        return []

    def list_documents(self) -> Iterator[DocumentRef]:
        type(self).listings += 1
        for key, text in self.pages.items():
            yield DocumentRef(key=key, version=text)

    def load(self, ref: DocumentRef) -> Document:
        return Document(source=self.config.name, key=ref.key, title=ref.key, uri=f"https://feed/{ref.key}",
                        sections=[Section(text=self.pages[ref.key])])

    def initial_cursor(self) -> str:
        return "now"

    def changes_since(self, cursor: str) -> Change:
        return Change(cursor="now")


registry.register(ConnectorType(type="test_feed", config_model=_FeedConfig, factory=_FeedConnector))


def test_incremental_sources_reconcile_in_full_on_their_interval(
    make_index: IndexFactory, hashing_embedder: HashingEmbedder
) -> None:
    _FeedConnector.pages = {"a": "alpha text", "b": "beta text"}
    _FeedConnector.listings = 0
    source = {"name": "feed", "type": "test_feed"}
    index = make_index([source], hashing_embedder)
    assert Indexer(index).run().total("added") == 2 and _FeedConnector.listings == 1
    del _FeedConnector.pages["b"]  # purged: the feed reports nothing
    incremental = Indexer(index).run().sources[0]
    assert incremental.incremental and incremental.deleted == 0 and _FeedConnector.listings == 1
    due = make_index([{**source, "full_sync_interval": 0.001}], hashing_embedder)
    reconciled = Indexer(due).run().sources[0]
    assert not reconciled.incremental and reconciled.deleted == 1 and _FeedConnector.listings == 2
    assert reconciled.chunks_embedded == 0  # the page still there was not embedded again
