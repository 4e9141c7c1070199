"""`orgkb verify`: each kind of corruption is reported as exactly that, and `--repair` fixes it.

The unit tests corrupt a real catalog and a real embedded Chroma (indexed with the hashing
embedder: consistency does not depend on meaning); the CLI test runs the packaged model.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orgkb.server.cli.verify import run_verify
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.writer_lock import WriterLock
from tests.conftest import IndexFactory, orgkb_command, subprocess_env, write_config


def _write_docs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "expenses.md").write_text(
        "# Expense policy\n\n## Limits\n\nMeals are reimbursed up to 40 EUR per day.\n\n"
        "## Approval\n\nExpenses over the limit are approved by the department head.\n",
        encoding="utf-8",
    )
    (root / "vpn.md").write_text("# VPN\n\nInstall the WireGuard client and import the profile.\n", encoding="utf-8")
    (root / "canteen.txt").write_text("The canteen serves lunch from noon until two.\n", encoding="utf-8")
    return root


@pytest.fixture
def index(tmp_path: Path, make_index: IndexFactory) -> Iterator[KnowledgeIndex]:
    docs = _write_docs(tmp_path / "docs")
    knowledge = make_index([{"name": "handbook", "type": "files", "paths": [str(docs)]}], embedder=HashingEmbedder())
    Indexer(knowledge).run()
    yield knowledge


def _sql(index: KnowledgeIndex, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run SQL on the catalog file directly, as a corruption would (not through the Catalog)."""
    with sqlite3.connect(index.catalog.path) as db:
        return db.execute(statement, params).fetchall()


def _chunk(index: KnowledgeIndex, doc_key: str = "expenses.md") -> tuple[int, str, str]:
    """``(rowid, chunk_id, doc_id)`` of a document's first chunk."""
    return _sql(index, "SELECT rowid, chunk_id, doc_id FROM chunks WHERE doc_id = ? ORDER BY ordinal", (f"handbook:{doc_key}",))[0]


def _kinds(report: Any) -> dict[str, list[str]]:
    return {f.kind: f.items for f in report.findings}


def delete_vector(index: KnowledgeIndex) -> tuple[str, list[str]]:
    _, cid, _ = _chunk(index)
    index.store.collection.delete(ids=[cid])
    return "missing_vector", [cid]


def add_orphan_vector(index: KnowledgeIndex) -> tuple[str, list[str]]:
    index.store.collection.upsert(ids=["stray"], embeddings=[[0.5] * 64], metadatas=[{"doc_id": "handbook:gone.md", "source": "handbook"}])
    return "orphan_vector", ["stray"]


def delete_chunk_fts_row(index: KnowledgeIndex) -> tuple[str, list[str]]:
    rowid, cid, _ = _chunk(index)
    _sql(index, "DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
    return "chunk_fts_missing", [cid]


def change_chunk_fts_text(index: KnowledgeIndex) -> tuple[str, list[str]]:
    rowid, cid, _ = _chunk(index)
    _sql(index, "UPDATE chunks_fts SET body = 'something else entirely' WHERE rowid = ?", (rowid,))
    return "chunk_fts_stale", [cid]


def add_orphan_chunk_fts_row(index: KnowledgeIndex) -> tuple[str, list[str]]:
    _sql(index, "INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (4242, 't', 'h', 'stray words')")
    return "chunk_fts_orphan", ["4242"]


def delete_document_fts_row(index: KnowledgeIndex) -> tuple[str, list[str]]:
    _sql(index, "DELETE FROM documents_fts WHERE rowid = (SELECT rowid FROM documents WHERE doc_id = 'handbook:vpn.md')")
    return "document_fts_missing", ["handbook:vpn.md"]


def add_orphan_document_fts_row(index: KnowledgeIndex) -> tuple[str, list[str]]:
    _sql(index, "INSERT INTO documents_fts(rowid, title, body) VALUES (777, 'stray', 'stray words')")
    return "document_fts_orphan", ["777"]


def break_chunk_count(index: KnowledgeIndex) -> tuple[str, list[str]]:
    _sql(index, "UPDATE documents SET chunk_count = chunk_count + 3 WHERE doc_id = 'handbook:canteen.txt'")
    return "chunk_count", ["handbook:canteen.txt"]


def duplicate_chunk(index: KnowledgeIndex) -> tuple[str, list[str]]:
    """A second chunk at the same position, written everywhere else as a real chunk would be.

    It is stored before the original (rowid 0): which one stays must not depend on that.
    """
    _, cid, doc = _chunk(index)
    copy = cid + "-copy"
    _sql(index, "INSERT INTO chunks(rowid, chunk_id, doc_id, ordinal, text, heading_path, line_start, line_end, page, anchor)"
                " SELECT 0, ?, doc_id, ordinal, text, heading_path, line_start, line_end, page, anchor FROM chunks WHERE chunk_id = ?",
         (copy, cid))
    _sql(index, "INSERT INTO chunks_fts(rowid, title, heading, body) SELECT c.rowid, f.title, f.heading, f.body"
                " FROM chunks c, chunks_fts f, chunks o WHERE c.chunk_id = ? AND o.chunk_id = ? AND f.rowid = o.rowid",
         (copy, cid))
    _sql(index, "UPDATE documents SET chunk_count = chunk_count + 1 WHERE doc_id = ?", (doc,))
    original = index.store.collection.get(ids=[cid], include=["embeddings", "metadatas"])
    index.store.collection.upsert(ids=[copy], embeddings=[list(original["embeddings"][0])], metadatas=original["metadatas"])
    return "duplicate_chunk", [copy]


def mislabel_vector(index: KnowledgeIndex) -> tuple[str, list[str]]:
    _, cid, _ = _chunk(index, "vpn.md")
    index.store.collection.update(ids=[cid], metadatas=[{"doc_id": "handbook:expenses.md", "source": "handbook"}])
    return "vector_metadata", [cid]


def widen_vector_readers(index: KnowledgeIndex) -> tuple[str, list[str]]:
    """Vectors whose readers a crash between the two permission writes left wider than the catalog's."""
    cids = [c.chunk_id for c in index.catalog.document_chunks("handbook:expenses.md")]
    index.store.collection.update(ids=cids, metadatas=[{"acl": ["user:mallory"], "acl_denied": ["*"]}] * len(cids))
    return "vector_permissions", cids


def orphan_chunk_row(index: KnowledgeIndex) -> tuple[str, list[str]]:
    """A chunk whose document row is gone (its other rows are left as they were)."""
    _, cid, doc = _chunk(index, "canteen.txt")
    _sql(index, "DELETE FROM documents_fts WHERE rowid = (SELECT rowid FROM documents WHERE doc_id = ?)", (doc,))
    _sql(index, "DELETE FROM documents WHERE doc_id = ?", (doc,))
    return "chunk_without_document", [cid]


CORRUPTIONS: list[Callable[[KnowledgeIndex], tuple[str, list[str]]]] = [
    delete_vector, add_orphan_vector, delete_chunk_fts_row, change_chunk_fts_text, add_orphan_chunk_fts_row,
    delete_document_fts_row, add_orphan_document_fts_row, break_chunk_count, duplicate_chunk, mislabel_vector,
    widen_vector_readers, orphan_chunk_row,
]


def test_a_fresh_index_is_consistent(index: KnowledgeIndex) -> None:
    report = run_verify(index)
    assert report.consistent and report.findings == []
    assert (report.documents, report.chunks) == (3, report.vectors) and report.chunks >= 4


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_each_corruption_is_reported_as_exactly_that_and_repaired(
    index: KnowledgeIndex, corrupt: Callable[[KnowledgeIndex], tuple[str, list[str]]]
) -> None:
    index.open()
    kind, items = corrupt(index)

    report = run_verify(index)
    assert _kinds(report) == {kind: items}
    assert not report.consistent

    repaired = run_verify(index, repair=True)
    assert repaired.repaired, "repair said it did nothing"
    assert repaired.consistent and repaired.findings == [], repaired.model_dump()
    # The repaired index keeps working: a run over the unchanged sources finds nothing to do but
    # what the corruption took away from the catalog itself (a deleted document row is re-added).
    summary = Indexer(index).run()
    assert summary.ok and summary.total("updated") == 0
    assert run_verify(index).consistent
    if kind == "vector_permissions":  # metadata only: the vectors were not embedded again
        assert repaired.repaired == [f"gave {len(items)} vectors their document's permissions (nothing re-embedded)"]
        got = index.store.collection.get(ids=items, include=["metadatas"])["metadatas"]
        recorded = index.catalog.permissions_of("handbook:expenses.md")
        assert recorded is not None and "user:mallory" not in recorded.principals
        assert all(m.get("acl") == sorted(recorded.principals) and m.get("acl_denied") is None for m in got), got


def test_duplicate_repair_keeps_the_chunk_of_the_current_content(index: KnowledgeIndex) -> None:
    index.open()
    _, [copy] = duplicate_chunk(index)
    original = copy.removesuffix("-copy")
    run_verify(index, repair=True)
    rows = _sql(index, "SELECT chunk_id FROM chunks WHERE doc_id = 'handbook:expenses.md' AND ordinal = 0")
    assert rows == [(original,)]
    assert index.store.existing_ids([original, copy]) == {original}


def test_vectors_recorded_as_pending_are_not_problems_and_repair_deletes_them(index: KnowledgeIndex) -> None:
    """What an interrupted run may leave: a written but unconfirmed vector, recorded as pending."""
    index.open()
    index.catalog.add_pending(["unconfirmed"])
    index.store.upsert(["unconfirmed"], [[0.1] * 64], [{"doc_id": "handbook:new.md", "source": "handbook"}])

    report = run_verify(index)
    assert report.consistent
    assert _kinds(report) == {"pending_cleanup": ["unconfirmed"]}

    repaired = run_verify(index, repair=True)
    assert repaired.findings == [] and index.store.existing_ids(["unconfirmed"]) == set()


def test_an_unrecorded_vector_next_to_pending_ones_is_still_an_orphan(index: KnowledgeIndex) -> None:
    index.open()
    index.catalog.add_pending(["recorded"])
    index.store.upsert(["recorded", "unrecorded"], [[0.1] * 64, [0.2] * 64], [{"doc_id": "x:y", "source": "x"}] * 2)
    assert _kinds(run_verify(index)) == {"pending_cleanup": ["recorded"], "orphan_vector": ["unrecorded"]}


def test_model_mismatch_is_reported_and_not_repaired(index: KnowledgeIndex) -> None:
    index.catalog.set_meta("embedding_model", "some-other-model")
    report = run_verify(index)
    assert list(_kinds(report)) == ["model_mismatch"]
    assert not run_verify(index, repair=True).consistent


def test_sources_show_added_changed_and_removed_documents(index: KnowledgeIndex, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "rota.json").write_text('{"monday": "Ana", "tuesday": "Bo"}', encoding="utf-8")
    Indexer(index).run()
    assert run_verify(index, sources=True).findings == []
    (docs / "new.md").write_text("# New\n\nA page nobody indexed yet.\n", encoding="utf-8")
    (docs / "vpn.md").write_text("# VPN\n\nUse the new client from now on.\n", encoding="utf-8")
    (docs / "canteen.txt").unlink()
    (docs / "rota.json").write_text('{"monday": "Ana", ', encoding="utf-8")

    assert run_verify(index).consistent, "the index itself is still consistent"
    report = run_verify(index, sources=True)
    unreadable = report.items("source_unreadable")
    assert len(unreadable) == 1 and unreadable[0].startswith("handbook:rota.json: invalid JSON")
    assert {k: v for k, v in _kinds(report).items() if k != "source_unreadable"} == {
        "source_unindexed": ["handbook:new.md"],
        "source_changed": ["handbook:vpn.md"],
        "source_removed": ["handbook:canteen.txt"],
    }
    assert not report.consistent
    (docs / "rota.json").write_text('{"monday": "Ana", "tuesday": "Bo"}', encoding="utf-8")

    Indexer(index).run()
    assert run_verify(index, sources=True).consistent


def test_repair_refuses_while_another_process_writes_and_a_check_notes_the_writer(index: KnowledgeIndex) -> None:
    config = index.config_path  # type: ignore[attr-defined]
    lock = WriterLock(index.data_dir)
    assert lock.try_acquire("orgkb index")
    try:
        result = subprocess.run(orgkb_command("--config", str(config), "verify", "--repair"),
                                capture_output=True, text=True, env=subprocess_env(), timeout=120)
        assert result.returncode == 2
        assert "is indexing" in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        # A check without repair still runs beside the writer, and says so.
        result = subprocess.run(orgkb_command("--config", str(config), "verify", "--json"),
                                capture_output=True, text=True, env=subprocess_env(), timeout=120)
        assert result.returncode == 0, result.stderr
        assert "orgkb index (pid" in json.loads(result.stdout)["notes"][0]
    finally:
        lock.release()


_VECTOR_SCRIPT = """
import json, sys, chromadb
collection = chromadb.PersistentClient(sys.argv[1]).get_collection("orgkb")
if sys.argv[2] == "delete":
    collection.delete(ids=[sys.argv[3]])
got = collection.get(ids=[sys.argv[3]], include=["embeddings", "metadatas"])
print(json.dumps({"ids": got["ids"], "embeddings": [list(map(float, e)) for e in got["embeddings"]], "metadatas": got["metadatas"]}))
"""


def _vector(data_dir: Path, action: str, vector_id: str) -> dict[str, Any]:
    """Read (or delete, then read) one vector in a process of its own, as another tool would."""
    result = subprocess.run([sys.executable, "-c", _VECTOR_SCRIPT, str(data_dir / "chroma"), action, vector_id],
                            capture_output=True, text=True, check=True, env=subprocess_env(ANONYMIZED_TELEMETRY="False"))
    return json.loads(result.stdout)


@pytest.mark.slow
def test_cli_with_the_real_model_reports_and_re_embeds_a_missing_vector(tmp_path: Path) -> None:
    docs = _write_docs(tmp_path / "docs")
    config = write_config(tmp_path / "orgkb.toml", [{"name": "handbook", "type": "files", "paths": [str(docs)]}])
    env = subprocess_env()

    def orgkb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(orgkb_command("--config", str(config), *args), capture_output=True, text=True, env=env, timeout=300)

    missing = orgkb("verify")
    assert missing.returncode == 2 and "run `orgkb index` first" in missing.stderr
    assert orgkb("index").returncode == 0
    clean = orgkb("verify")
    assert clean.returncode == 0 and "✓ consistent" in clean.stdout

    data_dir = tmp_path / "data"
    with sqlite3.connect(data_dir / "catalog.sqlite3") as db:
        (target,) = db.execute("SELECT chunk_id FROM chunks WHERE text LIKE '%department head%'").fetchone()
    before = _vector(data_dir, "get", target)
    assert _vector(data_dir, "delete", target)["ids"] == []

    found = orgkb("verify", "--json")
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["consistent"] is False
    assert [(f["kind"], f["examples"]) for f in report["findings"]] == [("missing_vector", [target])]
    readable = orgkb("verify")
    assert readable.returncode == 1 and "without a vector" in readable.stdout and target in readable.stdout

    repaired = orgkb("verify", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "re-embedded 1 chunks with sentence-transformers/all-MiniLM-L6-v2" in repaired.stdout
    after = _vector(data_dir, "get", target)
    # The same text, context line and model as the indexer used: the same vector, and metadata.
    similarity = sum(a * b for a, b in zip(before["embeddings"][0], after["embeddings"][0], strict=True))
    assert similarity > 0.999
    assert after["metadatas"] == before["metadatas"]

    assert orgkb("verify", "--sources").returncode == 0
