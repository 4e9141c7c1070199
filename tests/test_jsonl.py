"""The JSON-lines connector: field mapping, streaming, malformed lines, updates and deletions."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from orgkb.connectors.base import ConnectorError, DocumentRef, Failure
from orgkb.connectors.registry import connector_types
from orgkb.connectors.jsonl import JsonlConfig, JsonlConnector
from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.errors import ConfigError
from orgkb.server.index.indexer import Indexer
from orgkb.server.search.searcher import Searcher
from tests.conftest import IndexFactory, write_config


def _write(path: Path, *records: dict | str) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _connector(path: Path, **settings: object) -> JsonlConnector:
    return JsonlConnector(JsonlConfig(name="notes", paths=[str(path)], **settings))


def _listing(connector: JsonlConnector) -> tuple[list[DocumentRef], list[Failure]]:
    items = list(connector.list_documents())
    return [i for i in items if isinstance(i, DocumentRef)], [i for i in items if isinstance(i, Failure)]


def test_beir_layout_by_default(tmp_path: Path) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", {"_id": "4983", "title": "White matter", "text": "Diffusion MRI.", "metadata": {}})
    refs, failures = _listing(_connector(corpus))
    assert failures == []
    document = refs[0].document
    assert document is not None and refs[0].key == "4983"
    assert (document.title, document.sections[0].text) == ("White matter", "Diffusion MRI.")
    assert document.uri == f"{corpus.as_uri()}#4983"
    assert refs[0].version == document.version and refs[0].version


def test_custom_fields_metadata_dates_and_links(tmp_path: Path) -> None:
    corpus = _write(
        tmp_path / "tickets.jsonl",
        {"id": 17, "subject": "VPN drops", "body": "It drops hourly.", "resolution": "New profile.",
         "meta": {"team": "network", "priority": 2}, "tags": ["vpn", "wifi"], "closed": "2024-03-05T10:00:00Z"},
        {"id": 18, "subject": "Printer", "body": "Jammed.", "closed": 1709632800000},
    )
    connector = _connector(
        corpus, id_field="id", title_field="subject", text_field=["body", "resolution"],
        metadata_fields=["meta.team", "meta.priority", "tags", "missing"], modified_field="closed",
        uri_template="https://helpdesk.example.com/tickets/{id}",
    )
    refs, failures = _listing(connector)
    assert failures == []
    first, second = (r.document for r in refs)
    assert first is not None and second is not None
    assert [(s.heading_path, s.text) for s in first.sections] == [(["body"], "It drops hourly."), (["resolution"], "New profile.")]
    assert first.metadata == {"meta.team": "network", "meta.priority": 2, "tags": "vpn, wifi"}
    assert first.modified is not None and first.modified.isoformat() == "2024-03-05T10:00:00+00:00"
    assert second.modified is not None and second.modified.isoformat() == "2024-03-05T10:00:00+00:00"  # milliseconds
    assert first.uri == "https://helpdesk.example.com/tickets/17"


def test_malformed_lines_are_failures_and_the_rest_is_indexed(tmp_path: Path) -> None:
    corpus = _write(
        tmp_path / "corpus.jsonl",
        {"_id": "1", "text": "fine"},
        '{"_id": "2", "text": "cut off',
        "[1, 2, 3]",
        {"title": "no id"},
        {"_id": "5", "title": "", "text": ""},
        {"_id": "1", "text": "duplicate"},
        {"_id": "6", "text": "bad date", "when": "next tuesday"},
        "",
        {"_id": "7", "text": "also fine"},
    )
    refs, failures = _listing(_connector(corpus, modified_field="when"))
    assert [r.key for r in refs] == ["1", "7"]
    messages = {f.key: f.message for f in failures}
    # A broken line whose id is still legible is reported under that id, so its indexed version is kept.
    assert "not valid JSON" in messages["2"]
    assert "expected a JSON object" in messages["corpus.jsonl:3"]
    assert "no '_id' field" in messages["corpus.jsonl:4"]
    assert "no text" in messages["5"]
    assert "duplicate id '1'" in messages["corpus.jsonl:6"]
    assert "not a date" in messages["6"]


def test_overlong_lines_are_skipped_without_being_held_in_memory(tmp_path: Path) -> None:
    corpus = _write(tmp_path / "c.jsonl", {"_id": "big", "text": "x" * 5000}, {"_id": "small", "text": "ok"})
    refs, failures = _listing(_connector(corpus, max_line_bytes=1024))
    assert [r.key for r in refs] == ["small"]
    assert failures[0].key == "c.jsonl:1" and failures[0].skipped


def test_globs_and_gzip(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    _write(tmp_path / "export" / "a.jsonl", {"_id": "a", "text": "alpha"})
    with gzip.open(tmp_path / "export" / "b.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"_id": "b", "text": "beta"}) + "\n")
    refs, _ = _listing(_connector(tmp_path / "export" / "*.jsonl*"))
    assert sorted(r.key for r in refs) == ["a", "b"]
    with pytest.raises(ConnectorError, match="no file matches"):
        list(_connector(tmp_path / "export" / "*.ndjson").list_documents())


def test_config_errors_are_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "orgkb.toml", [{"name": "n", "type": "jsonl", "paths": ["missing.jsonl"]}])
    assert "file not found" in load_config(config).unavailable_sources[0].reason
    _write(tmp_path / "ok.jsonl", {"_id": "1", "text": "x"})
    config = write_config(tmp_path / "orgkb.toml", [{"name": "n", "type": "jsonl", "paths": ["ok.jsonl"], "uri_template": "https://x/"}])
    with pytest.raises(ConfigError, match=r"uri_template must contain \{id\}"):
        load_config(config)
    assert "jsonl" in connector_types()


def test_incremental_updates_deletions_and_kept_versions(tmp_path: Path, make_index: IndexFactory) -> None:
    corpus = _write(
        tmp_path / "notes.jsonl",
        {"_id": "n1", "title": "Parking", "text": "Staff park in garage B."},
        {"_id": "n2", "title": "Canteen", "text": "Lunch is served from noon."},
        {"_id": "n3", "title": "Badges", "text": "Lost badges are replaced at reception."},
    )
    embedder = HashingEmbedder()
    index = make_index([{"name": "notes", "type": "jsonl", "paths": [str(corpus)]}], embedder)
    first = Indexer(index).run()
    assert (first.total("added"), first.total("failed")) == (3, 0)

    embedder.embedded_texts.clear()
    again = Indexer(index).run()
    assert (again.total("unchanged"), again.total("chunks_embedded")) == (3, 0)
    assert embedder.embedded_texts == []

    # n1 changes, n2 is removed, n3's line breaks (its id is still legible), n4 is new.
    _write(
        corpus,
        {"_id": "n1", "title": "Parking", "text": "Staff park in garage C from May."},
        '{"_id": "n3", "title": "Badges", "text": "Lost badges',
        {"_id": "n4", "title": "Bikes", "text": "Bikes go in the courtyard shed."},
    )
    changed = Indexer(index).run()
    source = changed.sources[0]
    assert (source.added, source.updated, source.deleted, source.failed) == (1, 1, 1, 1)
    assert all("Staff park in garage C" in t or "Bikes" in t for t in embedder.embedded_texts)
    keys = {d.key for d in index.catalog.list_documents("notes")}
    assert keys == {"n1", "n3", "n4"}  # n3 kept at its last good version, n2 gone
    assert [f.key for f in index.catalog.failures("notes")] == ["n3"]
    hits = Searcher(index).search("garage", mode="keyword").hits
    assert [h.doc_id for h in hits] == ["notes:n1"] and "garage C" in hits[0].text
    assert Searcher(index).search("canteen lunch noon", mode="keyword").hits == []


def test_changing_the_field_mapping_rereads_every_record(tmp_path: Path, make_index: IndexFactory) -> None:
    corpus = _write(tmp_path / "c.jsonl", {"_id": "1", "title": "T", "text": "body", "summary": "short"})
    index = make_index([{"name": "c", "type": "jsonl", "paths": [str(corpus)]}], HashingEmbedder())
    Indexer(index).run()
    remapped = make_index([{"name": "c", "type": "jsonl", "paths": [str(corpus)], "text_field": "summary"}], HashingEmbedder())
    summary = Indexer(remapped).run()
    assert summary.total("updated") == 1
    assert remapped.catalog.document_chunks("c:1")[0].text == "short"
