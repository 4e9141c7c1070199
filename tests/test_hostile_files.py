"""Documents that expand past their limits, parsers that cannot be interrupted, and odd names.

Payloads come from tests/hostile_files.py at sizes that would hang or blow up the old parsers
(quadratic patterns on 200,000 characters, python-docx on 130,000 paragraphs) but stay cheap
for linear code. A document over a limit must be a failure naming the setting, never a
half-indexed document, and must leave the previous version in place.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orgkb.connectors.base import Document, DocumentError, DocumentRef, Failure
from orgkb.connectors.files import FilesConfig, FilesConnector
from orgkb.connectors.formats import SkipFile, parse_file
from orgkb.connectors.formats.worker import ParseWorker
from orgkb.connectors.identifiers import document_uri
from orgkb.connectors.limits import DocumentLimits, LimitExceeded
from orgkb.server.app.service import OrgkbService
from orgkb.server.embedding.embedder import Embedder, HashingEmbedder
from orgkb.server.index.indexer import IndexSummary, Indexer
from tests import hostile_files as hostile
from tests.conftest import IndexFactory


def _load(folder: Path, name: str, **limits: object) -> Document:
    """Load one file of ``folder`` through the files connector (worker, limits and all)."""
    config = FilesConfig.model_validate({"name": "s", "type": "files", "paths": [str(folder)], "limits": limits})
    return FilesConnector(config).load(DocumentRef(key=name))


# --- expansion limits ------------------------------------------------------------------------


def test_json_that_flattens_past_max_chars_is_refused_naming_the_setting(tmp_path: Path) -> None:
    path = hostile.json_blowup(tmp_path, depth=200, leaves=300)
    assert path.stat().st_size < 20_000
    with pytest.raises(LimitExceeded, match=r"document expands to more than .* of text, over the .* limit \(limits\.max_chars\)"):
        _load(tmp_path, path.name, max_chars=100_000)
    # With room to expand, the same file indexes in full: the limit, not the parser, refused it.
    document = _load(tmp_path, path.name, max_chars=5_000_000)
    assert "k299: 299" in document.text


def test_wide_csv_is_bounded_by_max_chars(tmp_path: Path) -> None:
    path = hostile.csv_blowup(tmp_path, columns=100, rows=500)
    with pytest.raises(LimitExceeded, match=r"limits\.max_chars"):
        _load(tmp_path, path.name, max_chars=50_000)


def test_docx_zip_bomb_is_refused_before_it_is_unzipped(tmp_path: Path) -> None:
    path = hostile.docx_zip_bomb(tmp_path, unzipped_mb=260)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(LimitExceeded, match=r"DOCX unzips to \d+ MB, over the"):
        _load(tmp_path, path.name)


def test_docx_of_many_tiny_paragraphs_parses_completely(tmp_path: Path) -> None:
    path = hostile.docx_many_paragraphs(tmp_path, paragraphs=130_000)
    document = _load(tmp_path, path.name)
    text = document.text
    assert "w0" in text and "w129999" in text and text.count("\n\n") >= 129_999


def test_yaml_alias_bomb_in_front_matter_is_refused(tmp_path: Path) -> None:
    path = hostile.yaml_anchor_bomb(tmp_path, uses=20_000)
    with pytest.raises(DocumentError, match="alias bomb"):
        _load(tmp_path, path.name)
    # A few aliases are ordinary YAML and still become metadata.
    (tmp_path / "few.md").write_text("---\ntags: &t [a, b]\nalso: *t\n---\n# Few\ntext\n")
    assert _load(tmp_path, "few.md").metadata["also"] == "a, b"


def test_metadata_copied_into_chunks_is_capped(tmp_path: Path) -> None:
    fields = "\n".join(f"field{i}: {'x' * 5000}" for i in range(100))
    (tmp_path / "meta.md").write_text(f"---\n{fields}\n---\n# Meta\ntext\n")
    metadata = _load(tmp_path, "meta.md", max_metadata_keys=10, max_metadata_chars=200).metadata
    assert len([key for key in metadata if key.startswith("field")]) == 10
    assert max(len(str(value)) for value in metadata.values()) <= 200
    assert metadata["path"] == "meta.md"  # the connector's own fields are kept


@pytest.mark.parametrize(
    "make",
    [hostile.markdown_brackets, hostile.markdown_setext_paragraph, hostile.yaml_long_line],
    ids=["brackets", "setext-paragraph", "yaml-blanks"],
)
def test_patterns_that_were_quadratic_parse_within_the_time_limit(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path)
    document = _load(tmp_path, path.name, parse_seconds=20)
    assert all(len(heading) <= 300 for s in document.sections for heading in s.heading_path)


def test_headings_are_cleaned_linearly_and_kept_short() -> None:
    parsed = parse_file("a.md", ("# Title **bold_x** `code` [link](u) ##\ntext\n\n# " + "[a](" * 50_000 + "\nmore\n").encode())
    assert parsed.sections[0].heading_path == ["Title bold_x code link"]
    assert len(parsed.sections[1].heading_path[0]) <= 300


def test_deeply_nested_html_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    path = hostile.html_deep_nesting(tmp_path, depth=20_000)
    with pytest.raises(DocumentError, match="nests too deeply"):
        _load(tmp_path, path.name)


def test_pdf_with_deep_nesting_is_a_failure(tmp_path: Path) -> None:
    path = hostile.pdf_deep_nesting(tmp_path, depth=20_000)
    with pytest.raises(DocumentError):
        _load(tmp_path, path.name)


# --- the worker process ------------------------------------------------------------------------


def test_worker_kills_a_parse_over_time_and_serves_the_next_file(tmp_path: Path) -> None:
    worker = ParseWorker()
    try:
        slow = hostile.docx_many_paragraphs(tmp_path, paragraphs=130_000).read_bytes()
        with pytest.raises(LimitExceeded, match=r"parsing took longer than 0.2 s, the limit \(limits.parse_seconds\)"):
            worker.parse("slow.docx", slow, DocumentLimits(parse_seconds=0.2))
        parsed = worker.parse("ok.md", b"# Fine\nstill works\n", DocumentLimits())
        assert parsed.title == "Fine"
    finally:
        worker.close()


def test_worker_caps_memory_and_recovers(tmp_path: Path) -> None:
    worker = ParseWorker()
    try:
        # 40 MB of JSON that becomes ~200 MB of Python objects, under a 64 MB cap.
        data = b"[" + b"0," * 20_000_000 + b"0]"
        with pytest.raises(LimitExceeded, match=r"parsing needs more than 64 MB of memory.*limits.parse_memory_mb"):
            worker.parse("big.json", data, DocumentLimits(parse_memory_mb=64))
        assert worker.parse("ok.json", b'{"title": "fine"}', DocumentLimits(parse_memory_mb=64)).title == "fine"
    finally:
        worker.close()


def test_worker_reports_skips_and_errors_like_the_parsers() -> None:
    worker = ParseWorker()
    try:
        with pytest.raises(SkipFile):
            worker.parse("a.bin.txt", b"\x00\x01binary", DocumentLimits())
        with pytest.raises(DocumentError, match="invalid JSON"):
            worker.parse("a.json", b"{nope", DocumentLimits())
    finally:
        worker.close()


# --- through the indexer ---------------------------------------------------------------------------


def _failures(summary: IndexSummary) -> dict[str, Failure]:
    return {f.key: f for f in summary.sources[0].failures}


def test_document_over_a_limit_keeps_its_previous_version(
    tmp_path: Path, make_index: IndexFactory, hashing_embedder: HashingEmbedder
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "data.json").write_text(json.dumps({"title": "Inventory", "items": {"apples": 3}}))
    (root / "long.md").write_text("# Long\n\n" + "\n\n".join(f"Paragraph {i} " + "word " * 200 for i in range(6)))
    index = make_index(
        [{"name": "docs", "type": "files", "paths": [str(root)], "limits": {"max_chars": 20_000, "max_chunks": 3}}],
        hashing_embedder,
    )
    summary = Indexer(index).run()
    failures = _failures(summary)
    assert set(failures) == {"long.md"}
    assert "over the limit of 3 (limits.max_chunks)" in failures["long.md"].message
    service = OrgkbService(index).local()
    assert "apples: 3" in service.fetch(document_uri("docs", "data.json")).text

    hostile.json_blowup(root, depth=100, leaves=300).replace(root / "data.json")
    later = time.time() + 5
    os.utime(root / "data.json", (later, later))
    summary = Indexer(index).run()
    failures = _failures(summary)
    assert "limits.max_chars" in failures["data.json"].message and not failures["data.json"].skipped
    # Nothing of the blow-up got in; the last good version is still what is served.
    assert "apples: 3" in service.fetch(document_uri("docs", "data.json")).text
    assert summary.sources[0].error is None


def test_hostile_entries_are_each_reported_and_the_rest_indexes(
    tmp_path: Path, make_index: IndexFactory, hashing_embedder: HashingEmbedder
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    hostile.symlink_loop(root)
    hostile.fifo(root)
    _, server = hostile.unix_socket(root)
    hostile.pathological_ignore(root)
    (root / "good.md").write_text("# Good\nfine\n")
    try:
        index = make_index([{"name": "docs", "type": "files", "paths": [str(root)]}], hashing_embedder)
        summary = Indexer(index).run()
    finally:
        server.close()
    failures = _failures(summary)
    assert summary.sources[0].error is None
    assert failures["loop-a.md"].message == failures["loop-b.md"].message == "skipped: a symlink loop"
    assert "FIFO" in failures["pipe.md"].message and "socket" in failures["socket.txt"].message
    assert summary.sources[0].added == 2  # good.md and the long-named file the odd pattern does not match


def test_odd_file_names_round_trip_through_their_resource_uris(
    tmp_path: Path, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    names = hostile.odd_names(root)
    index = make_index([{"name": "docs", "type": "files", "paths": [str(root)]}], real_embedder)
    summary = Indexer(index).run()
    assert summary.sources[0].failures == [] and summary.sources[0].added == len(names)
    service = OrgkbService(index).local()
    for word, os_name in names.items():
        # The path a client takes: a search hit's resource uri, read back with fetch.
        hit = next(h for h in service.search(f"The {word} document", limit=10).hits if word in h.text)
        fetched = service.fetch(hit.resource_uri)
        assert f"The {word} document." in fetched.text
        assert fetched.resource_uri == hit.resource_uri
        # The citation uri names the very file on disk, byte for byte.
        assert fetched.uri == (root / os.fsdecode(os_name)).as_uri()
