"""The MediaWiki XML dump connector (no server): sample wiki, re-imports, bad dumps, memory."""

from __future__ import annotations

import subprocess
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from orgkb.connectors.base import DocumentRef
from orgkb.connectors.mediawiki.dump import MediaWikiDumpConfig, MediaWikiDumpConnector
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from tests.conftest import SAMPLE_DOCS, IndexFactory, orgkb_command, subprocess_env, write_config
from tests.search_helpers import hits_for, only

BASE = "https://wiki.brightwater.example/wiki/Main_Page"


@dataclass
class Page:
    title: str
    text: str
    revision: int
    ns: int = 0
    redirect: str | None = None


def export(path: Path, pages: list[Page], history: int = 1) -> Path:
    """Write a dump in MediaWiki's export format; ``history`` revisions per page, latest last."""
    out = [
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">',
        f"<siteinfo><sitename>Test</sitename><base>{BASE}</base><namespaces>"
        '<namespace key="0" case="first-letter" /><namespace key="12" case="first-letter">Help</namespace>'
        '<namespace key="14" case="first-letter">Category</namespace></namespaces></siteinfo>',
    ]
    for number, page in enumerate(pages, start=1):
        out.append(f"<page><title>{escape(page.title)}</title><ns>{page.ns}</ns><id>{number}</id>")
        if page.redirect:
            out.append(f'<redirect title="{escape(page.redirect)}" />')
        for old in range(history - 1, -1, -1):
            text = page.text if old == 0 else f"Outdated draft {old} of {page.title}."
            out.append(
                f"<revision><id>{page.revision - old}</id><timestamp>2025-01-{10 - min(old, 9):02d}T10:00:00Z</timestamp>"
                "<contributor><username>Lena Vogt</username><id>3</id></contributor><model>wikitext</model>"
                f'<format>text/x-wiki</format><text xml:space="preserve">{escape(text)}</text></revision>'
            )
        out.append("</page>")
    out.append("</mediawiki>")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def dump_source(path: Path, **extra: Any) -> dict[str, Any]:
    return {"name": "dump", "type": "mediawiki_dump", "path": str(path), **extra}


@pytest.mark.slow
def test_sample_wiki_is_found_and_cited_at_its_sections(make_index: IndexFactory, real_embedder: Embedder) -> None:
    index = make_index([dump_source(SAMPLE_DOCS / "wiki" / "brightwater-wiki.xml")], real_embedder)
    summary = only(Indexer(index).run())
    assert summary.error is None and summary.failed == 0
    # Articles only: the redirect and the template are not documents.
    assert set(index.catalog.document_states("dump")) == {"Main Page", "Office Berlin", "On-call rota", "Release process"}

    answers = {
        "where can I park my bike at the Berlin office": "Office_Berlin#Bicycles_and_parking",
        "who is paged if the primary on-call engineer does not acknowledge": "On-call_rota#Escalation",
        "how do I roll back a bad Tideline release": "Release_process#Canary_and_rollback",
        "on-call allowance for a weekend day": "On-call_rota#Allowance",
    }
    for question, target in answers.items():
        assert hits_for(index, question)[0].uri == f"https://wiki.brightwater.example/wiki/{target}", question

    berlin = index.catalog.get_document("dump:Office Berlin")
    assert berlin is not None
    assert berlin.version == "31"  # the latest of the page's two revisions
    assert berlin.metadata == {"namespace": "Main", "categories": "Offices, Berlin", "last_editor": "Lena Vogt", "language": "en"}
    text = berlin.as_document().text
    assert "06:00 to 23:00" in text and "22:00" not in text
    for junk in ("{{", "Infobox", "Headcount", "thumb", "[[", "'''"):
        assert junk not in text


@pytest.mark.slow
def test_a_newer_dump_applies_edits_deletions_and_moves(
    tmp_path: Path, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    dump = tmp_path / "wiki.xml"
    export(
        dump,
        [
            Page("Coffee", "== Machine ==\nThe espresso machine is descaled on Fridays.", 10),
            Page("Fax", "The fax number is +49 30 555 0199.", 11),
            Page("Mentoring", "== Mentors ==\nMentors meet their mentees every second Tuesday.", 12),
        ],
    )
    index = make_index([dump_source(dump)], real_embedder)
    assert only(Indexer(index).run()).added == 3

    export(
        dump,
        [
            Page("Coffee", "== Machine ==\nThe espresso machine is descaled on Mondays.", 20),
            Page("Mentoring", "#REDIRECT [[Mentoring programme]]", 21, redirect="Mentoring programme"),
            Page("Mentoring programme", "== Mentors ==\nMentors meet their mentees every second Tuesday.", 22),
        ],
    )
    summary = only(Indexer(index).run())
    assert (summary.updated, summary.added, summary.deleted, summary.error) == (1, 1, 2, None)
    assert "Mondays" in hits_for(index, "when is the espresso machine descaled")[0].text
    assert not hits_for(index, "Fridays", mode="keyword")
    assert not hits_for(index, "fax number", mode="keyword")
    assert hits_for(index, "how often do mentors meet")[0].uri == "https://wiki.brightwater.example/wiki/Mentoring_programme#Mentors"

    # The same dump again: nothing is rendered or embedded.
    again = only(Indexer(index).run())
    assert (again.unchanged, again.chunks_embedded) == (2, 0)


def test_a_truncated_dump_changes_nothing_and_the_complete_one_resumes(tmp_path: Path, make_index: IndexFactory, hashing_embedder: Embedder) -> None:
    dump = export(tmp_path / "wiki.xml", [Page(f"Page {n}", f"Text of page {n}.", n) for n in range(1, 6)])
    index = make_index([dump_source(dump)], hashing_embedder)
    Indexer(index).run()
    before = index.catalog.document_states("dump")

    complete = export(tmp_path / "next.xml", [Page(f"Page {n}", f"New text of page {n}.", 10 + n) for n in range(1, 4)])
    data = complete.read_bytes()
    dump.write_bytes(data[: len(data) * 2 // 3])  # a copy still being written, or cut off
    summary = only(Indexer(index).run())
    assert summary.error is not None and "is not a complete MediaWiki XML dump" in summary.error
    assert set(index.catalog.document_states("dump")) == set(before)  # nothing deleted

    dump.write_bytes(data)
    summary = only(Indexer(index).run())
    assert summary.error is None and set(index.catalog.document_states("dump")) == {"Page 1", "Page 2", "Page 3"}


def test_namespaces_history_and_page_url(tmp_path: Path) -> None:
    dump = export(
        tmp_path / "wiki.xml",
        [Page("Help:Getting started", "Read me first.", 5, ns=12), Page("Help:Editing", "Use the visual editor.", 9, ns=12),
         Page("Kitchen", "Dishes go in the dishwasher.", 30)],
        history=3,
    )  # fmt: skip
    connector = MediaWikiDumpConnector(
        MediaWikiDumpConfig(**dump_source(dump, namespaces=["Help"], page_url="https://intranet.example/w/$1"))
    )
    refs = [r for r in connector.list_documents() if isinstance(r, DocumentRef)]
    assert [(r.key, r.version) for r in refs] == [("Help:Getting started", "5"), ("Help:Editing", "9")]
    document = connector.load(refs[1])
    assert document.uri == "https://intranet.example/w/Help:Editing"
    assert document.text == "Use the visual editor."  # the latest of three revisions


def test_memory_stays_bounded_on_a_large_dump(tmp_path: Path) -> None:
    body = "Lorem ipsum dolor sit amet. " * 400  # ~11 kB per page
    dump = export(tmp_path / "big.xml", [Page(f"Page {n}", body, n) for n in range(1, 801)], history=2)
    assert dump.stat().st_size > 8_000_000
    connector = MediaWikiDumpConnector(MediaWikiDumpConfig(**dump_source(dump)))
    tracemalloc.start()
    count = sum(1 for _ in connector.list_documents())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 800
    assert peak < 2_000_000, f"peak {peak} bytes while streaming a {dump.stat().st_size} byte dump"


def test_check_names_a_missing_or_foreign_file(tmp_path: Path) -> None:
    (tmp_path / "notes.xml").write_text("<notes><note>hi</note></notes>", encoding="utf-8")
    good = export(tmp_path / "wiki.xml", [Page("A", "a", 1)])
    config = write_config(
        tmp_path / "orgkb.toml",
        [dump_source(good), {**dump_source(tmp_path / "notes.xml"), "name": "foreign"}],
    )
    result = subprocess.run(
        orgkb_command("--config", str(config), "check"),
        capture_output=True, text=True, timeout=120, env=subprocess_env(COLUMNS="400"),
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1
    assert lines[0].startswith("✓ dump")
    assert lines[1].startswith("✗ foreign") and "is not a MediaWiki XML dump" in lines[1]
