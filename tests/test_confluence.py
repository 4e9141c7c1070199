"""Confluence against a local server that answers in the documented shapes of Atlassian's REST API.

No real Confluence runs here: `tests/fake_confluence.py` serves responses shaped as Atlassian
documents them (Cloud and Data Center), including pagination, CQL, trash and auth quirks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orgkb.connectors.confluence.storage import storage_sections
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.search.searcher import Searcher
from tests.conftest import IndexFactory
from tests.fake_confluence import FakeConfluence

TOKEN_ENV = "ORGKB_TEST_CONFLUENCE_TOKEN"

DEPLOY_PAGE = """<ac:structured-macro ac:name="toc" ac:schema-version="1"/>
<p>Tideline is deployed from the <ac:link><ri:page ri:content-title="Release calendar"/></ac:link> every Tuesday.</p>
<h2>Before you deploy</h2>
<ac:structured-macro ac:name="info"><ac:rich-text-body><p>Announce the deploy in #eng-releases.</p></ac:rich-text-body></ac:structured-macro>
<h2>Rolling back</h2>
<p>A rollback takes about five minutes and any engineer on call may start it.</p>
<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>
<ac:plain-text-body><![CDATA[tide-deploy rollback --to previous]]></ac:plain-text-body></ac:structured-macro>
<ac:image><ri:attachment ri:filename="rollback-diagram.png"/></ac:image>"""


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch, confluence_server: FakeConfluence) -> str:
    monkeypatch.setenv(TOKEN_ENV, confluence_server.token)
    return confluence_server.token


@pytest.fixture
def site(confluence_server: FakeConfluence, token: str) -> Iterator[dict[str, str]]:
    """Two spaces with a handful of pages; two per result page, so listings paginate."""
    server = confluence_server
    server.body_limit = 2
    server.add_space("ENG", "Engineering")
    server.add_space("HR", "People & Culture")
    home = server.add_page("ENG", "Engineering Home", "<p>Start here for engineering documentation.</p>")
    ids = {
        "home": home,
        "deploy": server.add_page("ENG", "Deploying Tideline", DEPLOY_PAGE, labels=["runbook", "deploy"], parent=home),
        "oncall": server.add_page("ENG", "On-call handbook", "<h2>Paging</h2><p>PagerDuty pages the on-call engineer for SEV1 and SEV2 incidents.</p>", parent=home),
        "leave": server.add_page("HR", "Parental leave FAQ", "<p>Parents in Germany may take up to three years of Elternzeit.</p>"),
        "lunch": server.add_page("HR", "Lunch vouchers", "<p>Every employee receives lunch vouchers worth 7 euros per working day.</p>"),
    }
    yield ids


def cloud_source(server: FakeConfluence, **extra: Any) -> dict[str, Any]:
    return {
        "name": "wiki", "type": "confluence", "url": server.base, "deployment": "cloud", "username": server.user,
        "token_env": TOKEN_ENV, "spaces": ["ENG", "HR"], "max_retries": 1, **extra,
    }


def test_storage_format_becomes_clean_text_with_headings() -> None:
    sections = storage_sections(DEPLOY_PAGE + "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>"
                                "incomplete</ac:task-status><ac:task-body>Update the changelog</ac:task-body></ac:task>"
                                "</ac:task-list><p><ac:structured-macro ac:name='status'><ac:parameter ac:name='title'>"
                                "APPROVED</ac:parameter></ac:structured-macro></p>", "Deploying Tideline", "cloud")
    by_heading = {tuple(s.heading_path): s for s in sections}
    assert by_heading[()].text == "Tideline is deployed from the Release calendar every Tuesday."
    assert by_heading[("Before you deploy",)].text == "Announce the deploy in #eng-releases."
    rollback = by_heading[("Rolling back",)]
    assert "tide-deploy rollback --to previous" in rollback.text
    assert "- Update the changelog" in rollback.text and "APPROVED" in rollback.text
    assert "rollback-diagram" not in rollback.text and "language" not in rollback.text and "bash" not in rollback.text
    assert rollback.anchor == "Rolling-back"
    assert storage_sections(DEPLOY_PAGE, "Deploying Tideline", "datacenter")[-1].anchor == "DeployingTideline-Rollingback"


def test_pages_are_found_cited_and_follow_edits_and_deletions(
    confluence_server: FakeConfluence, site: dict[str, str], make_index: IndexFactory, real_embedder: Embedder
) -> None:
    server = confluence_server
    index = make_index([cloud_source(server)], real_embedder)
    first = Indexer(index).run().sources[0]
    assert (first.error, first.added, first.failed) == (None, 5, 0)
    assert any("start=2" in path for path in server.requests), "the listing followed _links.next"

    hit = Searcher(index).search("how long does a rollback take", limit=3).hits[0]
    assert hit.title == "Deploying Tideline"
    assert hit.heading_path == ["Rolling back"]
    assert hit.uri == f"{server.base}/spaces/ENG/pages/{site['deploy']}/Deploying+Tideline#Rolling-back"
    stored = index.catalog.get_document(f"wiki:{site['deploy']}")
    assert stored is not None
    assert stored.metadata == {
        "space": "ENG", "space_name": "Engineering", "labels": "runbook, deploy", "breadcrumb": "Engineering Home",
        "last_modified_by": "Rui Matos", "page_id": site["deploy"], "language": "en",
    }
    assert stored.version == "1"

    # An edit and a new page arrive through CQL; the unchanged pages are listed but not loaded again.
    server.edit_page(site["deploy"], DEPLOY_PAGE.replace("about five minutes", "about fifteen minutes"))
    server.add_page("ENG", "Laptop refresh", "<p>Engineering laptops are replaced every four years.</p>")
    seen = len(server.requests)
    synced = Indexer(index).run().sources[0]
    assert synced.incremental and synced.error is None
    assert (synced.added, synced.updated, synced.deleted, synced.unchanged) == (1, 1, 0, 4)
    assert sum("body.storage" in path for path in server.requests[seen:]) == 2
    for mode in ("hybrid", "semantic", "keyword"):
        hits = Searcher(index).search("how long does a rollback take", limit=5, mode=mode).hits
        assert any("fifteen minutes" in h.text for h in hits), mode
        assert all("five minutes" not in h.text for h in hits), mode
    assert Searcher(index).search("when are laptops replaced", limit=1).hits[0].title == "Laptop refresh"
    assert index.catalog.get_document(f"wiki:{site['deploy']}").metadata["last_modified_by"] == "Sofia Lindqvist"  # type: ignore[union-attr]

    # A page moved to the trash is deleted by the next incremental sync.
    server.trash_page(site["oncall"])
    trashed = Indexer(index).run().sources[0]
    assert (trashed.incremental, trashed.deleted) == (True, 1)
    for mode in ("hybrid", "semantic", "keyword"):
        hits = Searcher(index).search("who gets paged for SEV1 incidents", limit=5, mode=mode).hits
        assert all(h.title != "On-call handbook" for h in hits), mode

    # A page purged without passing through the trash leaves at the next full reconcile.
    server.purge_page(site["lunch"])
    assert Indexer(index).run().sources[0].deleted == 0
    reconciled = Indexer(index).run(full=True).sources[0]
    assert (reconciled.error, reconciled.deleted) == (None, 1)
    assert index.catalog.get_document(f"wiki:{site['lunch']}") is None


def test_server_down_mid_sync_changes_nothing_and_the_next_sync_resumes(
    confluence_server: FakeConfluence, site: dict[str, str], make_index: IndexFactory, real_embedder: Embedder
) -> None:
    server = confluence_server
    index = make_index([cloud_source(server)], real_embedder)
    Indexer(index).run()
    cursor = index.catalog.source_state("wiki").cursor
    server.edit_page(site["leave"], "<p>Parents in Germany may take up to three years of parental leave (Elternzeit), "
                                    "and Brightwater tops up the first two months of parental allowance.</p>")
    server.edit_page(site["lunch"], "<p>Lunch vouchers are now worth 8 euros per working day.</p>")

    # Loading the second changed page fails: the first, already loaded, is not written either.
    server.go_down_at(lambda path: f"/content/{site['lunch']}?" in path)
    down = Indexer(index).run().sources[0]
    assert down.error is not None and "cannot reach" in down.error
    assert index.catalog.source_state("wiki").cursor == cursor
    assert all(version == "1" for version, _ in index.catalog.document_states("wiki").values())

    # A full listing that breaks off deletes nothing, though it has not seen most pages.
    server.come_back()
    server.go_down_at(lambda path: "start=2" in path)
    assert Indexer(index).run(full=True).sources[0].error is not None
    assert index.catalog.counts()["wiki"][0] == 5

    # Back up, with a transient 503 on the way (retried): the next sync applies both edits.
    server.come_back()
    server.transient_failures = 1
    summary = Indexer(index).run().sources[0]
    assert (summary.error, summary.incremental, summary.updated) == (None, True, 2)
    assert index.catalog.source_state("wiki").cursor != cursor
    assert "8 euros" in Searcher(index).search("how much are lunch vouchers worth", limit=1).hits[0].text


def test_data_center_token_and_urls(make_index: IndexFactory, real_embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeConfluence("datacenter", anonymous_access=True).start()
    try:
        server.add_space("OPS", "Operations")
        page = server.add_page("OPS", "Office keys", "<h2>Lost keys</h2><p>Report a lost office key to facilities within a day.</p>")
        monkeypatch.setenv(TOKEN_ENV, server.token)
        source = {"name": "dc", "type": "confluence", "url": server.base, "token_env": TOKEN_ENV, "spaces": ["OPS"], "max_retries": 0}
        index = make_index([source], real_embedder)
        assert Indexer(index).run().sources[0].added == 1
        hit = Searcher(index).search("what to do when I lose my office key", limit=1).hits[0]
        assert hit.uri == f"{server.base}/display/OPS/Office+keys#Officekeys-Lostkeys"

        # Data Center answers a wrong token as an anonymous visitor: caught before anything is deleted.
        server.trash_page(page)
        monkeypatch.setenv(TOKEN_ENV, "expired-token")
        for full in (False, True):
            failed = Indexer(index).run(full=full).sources[0]
            assert failed.error is not None and "treated as anonymous" in failed.error and TOKEN_ENV in failed.error
            assert "expired-token" not in failed.error
        assert index.catalog.counts()["dc"][0] == 1
        assert Searcher(index).search("lost office key", limit=1).hits[0].title == "Office keys"

        server.anonymous_access = False
        refused = Indexer(index).run().sources[0]
        assert refused.error is not None and "HTTP 401" in refused.error
        assert index.catalog.counts()["dc"][0] == 1
    finally:
        server.stop()


def test_config_infers_the_deployment_and_needs_a_username_for_cloud() -> None:
    from orgkb.connectors.confluence.connector import ConfluenceConfig

    base = {"name": "wiki", "type": "confluence", "token_env": TOKEN_ENV, "spaces": ["ENG"]}
    cloud = ConfluenceConfig.model_validate({**base, "url": "https://brightwater.atlassian.net/", "username": "ana@brightwater.example"})
    assert (cloud.deployment, cloud.url) == ("cloud", "https://brightwater.atlassian.net/wiki")
    datacenter = ConfluenceConfig.model_validate({**base, "url": "https://wiki.brightwater.example/confluence"})
    assert (datacenter.deployment, datacenter.url) == ("datacenter", "https://wiki.brightwater.example/confluence")
    with pytest.raises(ValueError, match="needs `username`"):
        ConfluenceConfig.model_validate({**base, "url": "https://brightwater.atlassian.net/wiki"})
    with pytest.raises(ValueError, match="not an http"):
        ConfluenceConfig.model_validate({**base, "url": "wiki.brightwater.example"})
