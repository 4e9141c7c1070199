"""The DokuWiki connector against a real DokuWiki (Debian's package), through the real index
and search. Each test uses page ids of its own: the wiki is shared by the whole session."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from orgkb.connectors.base import ConnectorError, DocumentRef
from orgkb.connectors.dokuwiki import DokuWikiConfig, DokuWikiConnector
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from tests.conftest import IndexFactory, orgkb_command, subprocess_env, write_config
from tests.search_helpers import hits_for, indexed_keys, only, sync_state
from tests.tcp_proxy import TcpProxy
from tests.wikiservers import DW_NO_API, DW_READER, DokuWikiServer

pytestmark = pytest.mark.slow

READER_ENV = "ORGKB_TEST_DW_READER"


@pytest.fixture(autouse=True)
def _reader_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(READER_ENV, DW_READER[1])


def wiki_source(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "doku", "type": "dokuwiki", "url": url, "username": DW_READER[0], "password_env": READER_ENV, **extra}


def next_second() -> None:
    """DokuWiki stamps revisions by the second: make the next save a new revision."""
    time.sleep(1.05 - time.time() % 1)


def test_pages_are_found_by_content_and_cited_at_their_section(
    dokuwiki_server: DokuWikiServer, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    wiki = dokuwiki_server
    wiki.put_page(
        "ops:on_call",
        "====== On-call rota ======\nThe platform team keeps one engineer on call around the clock.((Since 2023.))\n\n"
        "===== Escalation =====\nIf the on-call engineer does not answer within **15 minutes**, "
        "page the [[ops:team_leads|team lead]] via //Opsgenie//.\n\n"
        "===== Handover =====\n  * Handover happens every Monday at 09:30\n  * Update the [[https://status.example|status page]]\n",
    )
    index = make_index([wiki_source(wiki.url + "/doku.php?id=start")], real_embedder)
    assert only(Indexer(index).run()).error is None

    hits = hits_for(index, "who do I page if the on-call engineer does not respond")
    assert hits[0].doc_id == "doku:ops:on_call"
    assert hits[0].uri == f"{wiki.url}/doku.php?id=ops:on_call#escalation"
    assert hits[0].heading_path == ["On-call rota", "Escalation"]
    assert hits_for(index, "when is the on-call handover")[0].uri.endswith("#handover")

    document = index.catalog.get_document("doku:ops:on_call")
    assert document is not None
    assert document.title == "On-call rota"
    assert document.metadata == {"namespace": "ops", "last_editor": "admin", "language": "en"}
    text = document.as_document().text
    assert "page the team lead via Opsgenie" in text
    assert "- Handover happens every Monday at 09:30" in text
    for junk in ("**", "//", "[[", "((", "=====", "1)"):
        assert junk not in text


def test_edits_deletions_and_renames_arrive_with_the_next_sync(
    dokuwiki_server: DokuWikiServer, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    wiki = dokuwiki_server
    wiki.put_page("it:printers", "====== Printers ======\nThe second-floor printer is called Heron.\n")
    wiki.put_page("it:fax", "====== Fax ======\nThe fax machine number is +49 30 555 0199.\n")
    wiki.put_page("it:wlan_old", "====== Guest WLAN ======\nThe guest network is called Brightwater-Visitors.\n")
    index = make_index([wiki_source(wiki.url)], real_embedder)
    assert only(Indexer(index).run()).error is None
    assert {"it:printers", "it:fax", "it:wlan_old"} <= indexed_keys(index, "doku")

    next_second()
    wiki.put_page("it:printers", "====== Printers ======\nThe second-floor printer is called Kingfisher.\n")
    wiki.delete_page("it:fax")
    # DokuWiki has no rename of its own; the Move plugin deletes and recreates, as here.
    wiki.put_page("it:guest_wlan", "====== Guest WLAN ======\nThe guest network is called Brightwater-Visitors.\n")
    wiki.delete_page("it:wlan_old")
    summary = only(Indexer(index).run())

    assert summary.error is None and summary.incremental
    assert (summary.updated, summary.added, summary.deleted) == (1, 1, 2)
    assert "Kingfisher" in hits_for(index, "what is the printer on the second floor called")[0].text
    assert not hits_for(index, "Heron", mode="keyword")
    assert not hits_for(index, "fax number", mode="keyword")
    assert {"it:fax", "it:wlan_old"}.isdisjoint(indexed_keys(index, "doku"))
    assert hits_for(index, "guest wifi network name")[0].uri == f"{wiki.url}/doku.php?id=it:guest_wlan#guest_wlan"

    third = only(Indexer(index).run())
    assert (third.added, third.updated, third.deleted, third.chunks_embedded) == (0, 0, 0, 0)


def test_a_sync_after_the_change_log_was_trimmed_runs_in_full(
    dokuwiki_server: DokuWikiServer, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    wiki = dokuwiki_server
    wiki.put_page("facilities:keys", "====== Keys ======\nSpare keys are kept in the reception safe.\n")
    index = make_index([wiki_source(wiki.url, recent_days=3)], real_embedder)
    Indexer(index).run()
    wiki.delete_page("facilities:keys")
    # As if the last sync was four days ago: the wiki's log no longer reaches back that far.
    # (The cursor also carries the fingerprint of the ACLs, which this account cannot read.)
    index.catalog.record_sync("doku", cursor=f"{int(time.time()) - 4 * 86400}|unreadable", full=False, error=None, summary={}, failures=None)

    summary = only(Indexer(index).run())
    assert summary.error is None and not summary.incremental
    assert "facilities:keys" not in indexed_keys(index, "doku")
    assert int((index.catalog.source_state("doku").cursor or "0").partition("|")[0]) > time.time() - 60


def test_wrong_password_or_missing_api_permission_is_clear_and_changes_nothing(
    dokuwiki_server: DokuWikiServer, make_index: IndexFactory, real_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    wiki = dokuwiki_server
    wiki.put_page("hr:sick_leave", "====== Sick leave ======\nReport sick leave to hr@brightwater.example before 10:00.\n")
    index = make_index([wiki_source(wiki.url)], real_embedder)
    Indexer(index).run()
    before = sync_state(index, "doku")

    next_second()
    wiki.put_page("hr:sick_leave", "====== Sick leave ======\nSick leave is reported in the HR portal.\n")
    monkeypatch.setenv(READER_ENV, "not-the-password")
    error = only(Indexer(index).run()).error
    assert error is not None and "login as 'reader' failed: wrong username or password" in error

    monkeypatch.setenv(READER_ENV, DW_NO_API[1])
    no_api = make_index([wiki_source(wiki.url, username=DW_NO_API[0])], real_embedder, name="noapi.toml")
    error = only(Indexer(no_api).run()).error
    assert error is not None and "'noapi' may not call" in error and "remoteuser" in error

    assert sync_state(index, "doku") == before
    assert "hr@brightwater.example" in hits_for(index, "how do I report sick leave")[0].text


def test_server_down_during_a_full_sync_changes_nothing_and_the_next_sync_resumes(
    dokuwiki_server: DokuWikiServer, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    wiki = dokuwiki_server
    wiki.put_page("kitchen:coffee", "====== Coffee ======\nThe espresso machine is descaled on Fridays.\n")
    proxy = TcpProxy(wiki.server.port).up()
    try:
        index = make_index([wiki_source(proxy.url())], real_embedder)
        Indexer(index).run()
        before = sync_state(index, "doku")

        next_second()
        wiki.put_page("kitchen:coffee", "====== Coffee ======\nThe espresso machine is descaled on Tuesdays.\n")
        wiki.put_page("kitchen:tea", "====== Tea ======\nGreen tea is in the left cupboard.\n")
        summary = only(Indexer(index, progress=proxy.down_after(1)).run(full=True))
        assert summary.error is not None and "cannot reach" in summary.error
        assert sync_state(index, "doku") == before

        proxy.up()
        summary = only(Indexer(index).run())
        assert summary.error is None
        assert {"kitchen:coffee", "kitchen:tea"} <= indexed_keys(index, "doku")
        assert "Tuesdays" in hits_for(index, "when is the espresso machine descaled")[0].text
    finally:
        proxy.down()


def test_an_expired_session_is_renewed(dokuwiki_server: DokuWikiServer) -> None:
    dokuwiki_server.put_page("start", "====== Start ======\nWelcome.\n")
    connector = DokuWikiConnector(DokuWikiConfig(**wiki_source(dokuwiki_server.url, acl_file=str(dokuwiki_server.acl_path))))
    assert connector.check() == []
    connector.rpc.http.client.cookies.clear()  # as when the wiki expires or forgets the session
    assert "start" in {r.key for r in connector.list_documents() if isinstance(r, DocumentRef)}


def test_a_switched_off_api_is_named(dokuwiki_server: DokuWikiServer) -> None:
    connector = DokuWikiConnector(DokuWikiConfig(**wiki_source(dokuwiki_server.url)))
    with dokuwiki_server.api_switched_off(), pytest.raises(ConnectorError, match="XML-RPC API is switched off"):
        connector.check()


def test_check_prints_one_clear_line_per_problem(dokuwiki_server: DokuWikiServer, tmp_path: Path) -> None:
    wiki = dokuwiki_server
    config = write_config(
        tmp_path / "orgkb.toml",
        [
            wiki_source(wiki.url),
            {**wiki_source(wiki.url + "/not/the/wiki/"), "name": "wrong-url"},
            {**wiki_source(wiki.url), "name": "wrong-password", "password_env": "ORGKB_TEST_WRONG"},
            {**wiki_source(wiki.url), "name": "no-api", "username": DW_NO_API[0], "password_env": "ORGKB_TEST_NO_API"},
        ],
    )
    result = subprocess.run(
        orgkb_command("--config", str(config), "check"),
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(
            **{READER_ENV: DW_READER[1], "ORGKB_TEST_WRONG": "nope", "ORGKB_TEST_NO_API": DW_NO_API[1], "COLUMNS": "400"}
        ),
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 5, result.stdout + result.stderr
    assert lines[0].startswith("✓ doku")
    # The reader is no superuser and the source names no acl_file: said, not an error.
    assert lines[1].strip().startswith("warning: the ACLs cannot be read") and "administrators only" in lines[1]
    assert lines[2].startswith("✗ wrong-url") and "no DokuWiki XML-RPC API at" in lines[2]
    assert lines[3].startswith("✗ wrong-password") and "login as 'reader' failed" in lines[3]
    assert lines[4].startswith("✗ no-api") and "may not call" in lines[4]
    assert DW_READER[1] not in result.stdout + result.stderr
