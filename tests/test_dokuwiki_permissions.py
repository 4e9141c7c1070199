"""DokuWiki's ACLs mirrored into the index, against the real DokuWiki (Debian's package): read
through the API by a superuser or from ``acl_file``, the most specific rule winning as in
DokuWiki, and an ACL edit (which changes no page revision) reaching the index on the next sync
without embedding anything. A hashing embedder: this is about who sees what, not meaning."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orgkb.connectors.dokuwiki_acl import AclTable, scopes_of
from orgkb.server.app.access import Access
from orgkb.server.app.principal import Principal
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import IndexFactory
from tests.search_helpers import only, visible_ids
from tests.wikiservers import DW_ADMIN, DW_READER, DokuWikiServer

pytestmark = pytest.mark.slow

ADMIN_ENV, READER_ENV = "ORGKB_TEST_DW_ADMIN", "ORGKB_TEST_DW_READER"
MODES = ["hybrid", "semantic", "keyword"]
PAGES = {
    "acl:start": "====== Welcome ======\nThe expenses policy lives in the hr namespace.\n",
    "acl:eng:deploy": "====== Deploying ======\nExpenses for cloud servers are approved by the platform lead.\n",
    "acl:hr:salaries": "====== Salaries ======\nExpenses and salaries are paid on the 25th.\n",
    "acl:hr:handbook": "====== Handbook ======\nTravel expenses are refunded within a month.\n",
}
# Logged-in users read the wiki; hr is closed to all but "hr team" (and the indexing reader),
# except its handbook, which anyone may read. Names are written encoded, as DokuWiki does.
RULES = (
    "*\t@ALL\t0\n*\t@user\t1\n"
    "acl:hr:*\t@user\t0\nacl:hr:*\t@hr%20team\t1\nacl:hr:*\treader\t1\n"
    "acl:hr:handbook\t@ALL\t1\n"
    "# personal namespaces are not mirrored\nuser:%USER%:*\t%USER%\t16\n"
)
HR = Access(name="hanna", principal=Principal(user="hanna", groups=frozenset({"user", "hr team"})))
ENGINEER = Access(name="eli", principal=Principal(user="eli", groups=frozenset({"user"})))
VISITOR = Access(name="guest", principal=Principal(user="guest"))


@pytest.fixture
def wiki(dokuwiki_server: DokuWikiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[DokuWikiServer]:
    monkeypatch.setenv(ADMIN_ENV, DW_ADMIN[1])
    monkeypatch.setenv(READER_ENV, DW_READER[1])
    for page_id, text in PAGES.items():
        dokuwiki_server.put_page(page_id, text)
    with dokuwiki_server.acl_rules(RULES):
        yield dokuwiki_server
    for page_id in PAGES:
        dokuwiki_server.delete_page(page_id)


def source(wiki: DokuWikiServer, account: tuple[str, str], env: str, **extra: Any) -> dict[str, Any]:
    return {"name": "doku", "type": "dokuwiki", "url": wiki.url, "username": account[0], "password_env": env,
            "namespaces": ["acl"], **extra}


def assert_sees(index: KnowledgeIndex, access: Access, pages: set[str]) -> None:
    expected = {f"doku:{p}" for p in pages}
    for mode in MODES:
        assert visible_ids(index, access, "expenses", mode) == expected, (access.name, mode)
    for page in PAGES:
        assert access.allows(index.catalog.permissions_of(f"doku:{page}")) == (page in pages), (access.name, page)


def test_acls_read_by_a_superuser_decide_who_sees_a_page(wiki: DokuWikiServer, make_index: IndexFactory) -> None:
    index = make_index([source(wiki, DW_ADMIN, ADMIN_ENV)], embedder=HashingEmbedder())
    assert only(Indexer(index).run()).added == 4
    salaries = index.catalog.permissions_of("doku:acl:hr:salaries")
    assert salaries is not None and salaries.principals == {"group:hr team", "user:reader"}
    assert "acl:hr:* denies group:user" in salaries.rule
    assert index.catalog.permissions_of("doku:acl:start").principals == {"group:user"}  # type: ignore[union-attr]
    assert_sees(index, HR, set(PAGES))
    assert_sees(index, ENGINEER, {"acl:start", "acl:eng:deploy", "acl:hr:handbook"})
    assert_sees(index, VISITOR, {"acl:hr:handbook"})


def test_an_acl_edit_reaches_the_index_on_the_next_sync_without_embedding(
    wiki: DokuWikiServer, make_index: IndexFactory
) -> None:
    index = make_index([source(wiki, DW_READER, READER_ENV, acl_file=str(wiki.acl_path))], embedder=HashingEmbedder())
    Indexer(index).run()
    assert_sees(index, ENGINEER, {"acl:start", "acl:eng:deploy", "acl:hr:handbook"})  # the file says what the API would

    # Engineering is closed to plain users, hr's salaries opened to them; no page revision changes.
    wiki.acl_path.write_text(RULES + "acl:eng:*\t@user\t0\nacl:eng:*\treader\t1\nacl:hr:salaries\t@user\t1\n", encoding="utf-8")
    synced = only(Indexer(index).run())
    assert synced.error is None
    assert (synced.updated, synced.added, synced.chunks_embedded, synced.unchanged) == (0, 0, 0, 4)
    assert_sees(index, ENGINEER, {"acl:start", "acl:hr:salaries", "acl:hr:handbook"})
    assert_sees(index, HR, {"acl:start", "acl:hr:salaries", "acl:hr:handbook"})

    # With the ACLs unchanged the next sync is incremental again.
    assert only(Indexer(index).run()).incremental


def test_acls_that_cannot_be_read_hide_every_page_from_all_but_admins(wiki: DokuWikiServer, make_index: IndexFactory) -> None:
    index = make_index([source(wiki, DW_READER, READER_ENV)], embedder=HashingEmbedder())
    assert only(Indexer(index).run()).added == 4
    start = index.catalog.permissions_of("doku:acl:start")
    assert start is not None and start.principals == frozenset()
    assert "needs a DokuWiki superuser" in start.rule and "acl_file" in start.rule
    assert_sees(index, HR, set())
    admin = Access(name="admin", principal=Principal(user="root", admin=True))
    assert len(visible_ids(index, admin, "expenses", "keyword")) == 4


def test_acl_file_parsing_and_scopes() -> None:
    table = AclTable.parse("# comment\n*  @ALL 1\nns:*\t@sales%20team\t0 # closed\nns:x user%40mail 2\nbad line\nu:%USER%:* %USER% 16\n")
    assert table.rules == {"*": {"@ALL": 1}, "ns:*": {"@sales team": 0}, "ns:x": {"user@mail": 2}}
    assert scopes_of("a:b:c") == ["a:b:c", "a:b:*", "a:*", "*"] and scopes_of("start") == ["start", "*"]
    assert table.permissions("ns:x").principals == {"user:user@mail"}
    assert table.permissions("ns:y").principals == frozenset()
    assert table.permissions("other").principals == {"*"}
    assert AclTable.from_api([]).rules == {}
