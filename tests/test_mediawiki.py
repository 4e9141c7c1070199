"""The MediaWiki connector against a real MediaWiki 1.39, through the real index and search.

Every test uses page titles of its own: the wiki is shared by the whole session, and each
test's index lists all of it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from orgkb.connectors.base import DocumentRef
from orgkb.connectors.mediawiki.connector import MediaWikiConfig, MediaWikiConnector
from orgkb.connectors.mediawiki.dump import MediaWikiDumpConfig, MediaWikiDumpConnector
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from tests.conftest import IndexFactory, orgkb_command, subprocess_env, write_config
from tests.search_helpers import hits_for, indexed_keys, only, sync_state
from tests.tcp_proxy import TcpProxy
from tests.wikiservers import MW_OUTSIDER, MW_READER, MediaWikiServer, free_port

pytestmark = pytest.mark.slow

READER_ENV = "ORGKB_TEST_MW_READER"


@pytest.fixture(autouse=True)
def _reader_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(READER_ENV, MW_READER[1])
    monkeypatch.setenv("ORGKB_TEST_MW_OUTSIDER", MW_OUTSIDER[1])


def wiki_source(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "wiki", "type": "mediawiki", "url": url, "username": MW_READER[0], "password_env": READER_ENV, **extra}


def test_pages_are_found_by_content_and_cited_at_their_section(
    mediawiki_server: MediaWikiServer, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    wiki = mediawiki_server
    wiki.edit(
        "Template:Office facts",
        '{| class="infobox"\n! Desks\n| {{{desks}}}\n|-\n! Opened\n| {{{opened}}}\n|}',
    )
    wiki.edit(
        "Office Hamburg",
        "{{Office facts|desks=64|opened=2019}}\nThe Hamburg office sits in the Speicherstadt.<ref>Lease until 2030.</ref>\n"
        "== Getting there ==\nTake the U3 to Baumwall; the entrance faces the canal.\n"
        "== Floors ==\n=== Fourth floor ===\nThe fourth floor houses the satellite imagery team and the server room.\n"
        "[[Category:Offices]]",
    )
    index = make_index([wiki_source(wiki.url + "/index.php/Main_Page")], real_embedder)
    summary = Indexer(index).run()
    assert only(summary).error is None

    hits = hits_for(index, "where does the satellite imagery team sit in Hamburg")
    assert hits[0].doc_id == "wiki:Office Hamburg"
    assert hits[0].uri == f"{wiki.url}/index.php/Office_Hamburg#Fourth_floor"
    assert hits[0].heading_path == ["Floors", "Fourth floor"]
    assert hits_for(index, "where is the entrance of the Hamburg office")[0].uri.endswith("#Getting_there")

    document = index.catalog.get_document("wiki:Office Hamburg")
    assert document is not None
    assert document.metadata["categories"] == "Offices"
    assert document.metadata["last_editor"] == "Admin"
    text = document.as_document().text
    assert "Desks | 64" in text  # the template is expanded as readers see it
    assert "Speicherstadt" in text
    for junk in ("{{", "[edit]", "Template:", "[1]", "<ref"):
        assert junk not in text


def test_edits_deletions_and_moves_arrive_with_the_next_sync(
    mediawiki_server: MediaWikiServer, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    wiki = mediawiki_server
    wiki.edit("Release process", "== Freeze ==\nCode freeze is on Wednesday at noon; tag with calver.")
    wiki.edit("Legacy VPN", "The legacy VPN uses the Cisco AnyConnect client with a hardware token.")
    wiki.edit("Onboarding buddy", "== Buddy ==\nEvery new joiner gets a buddy who walks them through the kiln dashboard.")
    index = make_index([wiki_source(wiki.url)], real_embedder)
    assert only(Indexer(index).run()).error is None
    assert {"Release process", "Legacy VPN", "Onboarding buddy"} <= indexed_keys(index, "wiki")

    wiki.edit("Release process", "== Freeze ==\nCode freeze is on Thursday at 10:00; releases are tagged with semver.")
    wiki.delete("Legacy VPN")
    wiki.move("Onboarding buddy", "Buddy programme")
    summary = only(Indexer(index).run())

    assert summary.error is None and summary.incremental
    assert (summary.updated, summary.added, summary.deleted) == (1, 1, 2)
    # The edit: new text found, old text gone.
    assert hits_for(index, "when is the code freeze")[0].text.endswith("releases are tagged with semver.")
    assert not [h for h in hits_for(index, "Wednesday calver", mode="keyword") if h.doc_id == "wiki:Release process"]
    # The deletion.
    assert "Legacy VPN" not in indexed_keys(index, "wiki")
    assert not hits_for(index, "AnyConnect hardware token", mode="keyword")
    # The move: cited at the new title; the redirect left behind is not a page.
    assert "Onboarding buddy" not in indexed_keys(index, "wiki")
    moved = hits_for(index, "who shows new joiners the kiln dashboard")[0]
    assert moved.uri == f"{wiki.url}/index.php/Buddy_programme#Buddy"

    # A third sync with nothing changed loads nothing.
    third = only(Indexer(index).run())
    assert (third.added, third.updated, third.deleted, third.chunks_embedded) == (0, 0, 0, 0)


def test_full_run_reconciles_and_a_restored_page_returns(
    mediawiki_server: MediaWikiServer, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    wiki = mediawiki_server
    wiki.edit("Parking", "Bicycle parking is in the courtyard behind gate B.")
    index = make_index([wiki_source(wiki.url)], real_embedder)
    Indexer(index).run()
    assert "Parking" in indexed_keys(index, "wiki")

    wiki.delete("Parking")
    summary = only(Indexer(index).run(full=True))
    assert summary.error is None and not summary.incremental
    assert "Parking" not in indexed_keys(index, "wiki")

    wiki.php("undelete.php", "--user", "Admin", "Parking")
    summary = only(Indexer(index).run())
    assert summary.incremental and summary.added == 1
    assert hits_for(index, "where can I park my bike")[0].doc_id == "wiki:Parking"


def test_wrong_password_or_missing_permission_is_clear_and_changes_nothing(
    mediawiki_server: MediaWikiServer, make_index: IndexFactory, real_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    wiki = mediawiki_server
    wiki.edit("Security desk", "The security desk hands out visitor badges from 8:00.")
    index = make_index([wiki_source(wiki.url)], real_embedder)
    Indexer(index).run()
    before = sync_state(index, "wiki")

    wiki.edit("Security desk", "The security desk is closed.")
    monkeypatch.setenv(READER_ENV, "wrongpassword0123456789abcdefghij")
    error = only(Indexer(index).run()).error
    assert error is not None and "login as 'Reader@orgkb' failed" in error and READER_ENV in error

    outsider = make_index([wiki_source(wiki.url, username=MW_OUTSIDER[0], password_env="ORGKB_TEST_MW_OUTSIDER")], real_embedder, name="outsider.toml")
    error = only(Indexer(outsider).run()).error
    assert error is not None and "'Outsider@orgkb' may not read this wiki" in error

    assert sync_state(index, "wiki") == before
    assert hits_for(index, "who hands out visitor badges")[0].doc_id == "wiki:Security desk"


def test_server_down_mid_sync_changes_nothing_and_the_next_sync_resumes(
    mediawiki_server: MediaWikiServer, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    wiki = mediawiki_server
    wiki.edit("Canteen", "The canteen serves soup on Mondays.")
    proxy = TcpProxy(wiki.server.port).up()
    try:
        index = make_index([wiki_source(proxy.url())], real_embedder)
        Indexer(index).run()
        before = sync_state(index, "wiki")

        wiki.edit("Canteen", "The canteen serves curry on Mondays.")
        wiki.edit("Canteen menu", "Fridays are pizza days in the canteen.")
        summary = only(Indexer(index, progress=proxy.down_after(1)).run())
        assert summary.error is not None and "cannot reach" in summary.error
        assert sync_state(index, "wiki") == before

        proxy.up()
        summary = only(Indexer(index).run())
        assert summary.error is None and summary.incremental
        assert {"Canteen", "Canteen menu"} <= indexed_keys(index, "wiki")
        assert "curry" in hits_for(index, "what does the canteen serve on Mondays")[0].text
    finally:
        proxy.down()


def test_an_expired_session_is_renewed(mediawiki_server: MediaWikiServer) -> None:
    connector = MediaWikiConnector(MediaWikiConfig(**wiki_source(mediawiki_server.url)))
    assert connector.check() == []
    connector.api.http.client.cookies.clear()  # as when the wiki expires or forgets the session
    assert "Main Page" in {r.key for r in connector.list_documents() if isinstance(r, DocumentRef)}


def test_dump_of_the_wiki_indexes_like_the_wiki(mediawiki_server: MediaWikiServer, tmp_path: Path) -> None:
    wiki = mediawiki_server
    wiki.edit("Desk booking", "Intro.\n== Booking ==\nBook desks in the app.\n== Booking ==\nAgain.\n[[Category:Facilities]]")
    live = MediaWikiConnector(MediaWikiConfig(**wiki_source(wiki.url)))
    dump = MediaWikiDumpConnector(
        MediaWikiDumpConfig(name="wiki", type="mediawiki_dump", path=wiki.dump(tmp_path / "dump.xml"))
    )
    live_refs = {r.key: r for r in live.list_documents() if isinstance(r, DocumentRef)}
    dump_refs = {r.key: r for r in dump.list_documents() if isinstance(r, DocumentRef)}
    assert live_refs.keys() == dump_refs.keys() and "Desk booking" in live_refs
    assert live_refs["Desk booking"].version == dump_refs["Desk booking"].version
    from_wiki, from_dump = live.load(live_refs["Desk booking"]), dump.load(dump_refs["Desk booking"])
    assert from_dump.uri == from_wiki.uri
    assert [(s.heading_path, s.anchor, s.text) for s in from_dump.sections] == [
        (s.heading_path, s.anchor, s.text) for s in from_wiki.sections
    ]
    assert from_dump.metadata == from_wiki.metadata


def test_check_prints_one_clear_line_per_problem(mediawiki_server: MediaWikiServer, tmp_path: Path) -> None:
    wiki = mediawiki_server
    config = write_config(
        tmp_path / "orgkb.toml",
        [
            wiki_source(wiki.url),
            {**wiki_source(f"http://127.0.0.1:{free_port()}"), "name": "unreachable"},
            {**wiki_source(wiki.url + "/nothing-here/api.php"), "name": "not-a-wiki"},
            {**wiki_source(wiki.url), "name": "wrong-password", "password_env": "ORGKB_TEST_WRONG"},
        ],
    )
    result = subprocess.run(
        orgkb_command("--config", str(config), "check"),
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(**{READER_ENV: MW_READER[1], "ORGKB_TEST_WRONG": "x" * 32, "COLUMNS": "400"}),
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 4, result.stdout + result.stderr
    assert lines[0].startswith("✓ wiki")
    assert lines[1].startswith("✗ unreachable") and "cannot reach http://127.0.0.1:" in lines[1]
    assert lines[2].startswith("✗ not-a-wiki") and "no MediaWiki API found at" in lines[2]
    assert lines[3].startswith("✗ wrong-password") and "login as 'Reader@orgkb' failed" in lines[3]
    assert MW_READER[1] not in result.stdout + result.stderr
