"""Confluence permissions mirrored into the index: space view permissions, page read
restrictions inherited from ancestors, and a restriction changed at the source reaching the
index on the next sync without embedding anything.

Against `tests/fake_confluence.py`, which answers in the documented shapes of Cloud and Data
Center (no Confluence runs here). A hashing embedder: this is about who sees what, not meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orgkb.connectors.permission_rules import most_specific_readers, readers_of_all
from orgkb.server.app.access import Access
from orgkb.server.app.principal import Principal
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import IndexFactory
from tests.fake_confluence import ACCOUNT_PREFIX, FakeConfluence
from tests.search_helpers import only, visible_ids

TOKEN_ENV = "ORGKB_TEST_CONFLUENCE_TOKEN"
MODES = ["hybrid", "semantic", "keyword"]
EMAIL = "@brightwater.example"


def person(handle: str, *groups: str, deployment: str) -> Access:
    """A caller as the identity provider names them: Data Center usernames, Cloud emails."""
    user = handle if deployment == "datacenter" else handle + EMAIL
    return Access(name=handle, principal=Principal(user=user, groups=frozenset(groups)))


@pytest.fixture(params=["cloud", "datacenter"])
def wiki(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeConfluence, dict[str, str]]]:
    """ENG readable by engineering and hr; salary pages restricted below its home page; a
    public space; a page whose restrictions this account may not read."""
    server = FakeConfluence(request.param).start()
    server.body_limit = 2
    monkeypatch.setenv(TOKEN_ENV, server.token)
    server.add_user("hana.weber", ["hr"])
    server.add_user("tom.berg", ["engineering"])
    server.add_user("ida.lund", ["engineering", "hr"])
    server.add_space("ENG", "Engineering")
    server.set_space_readers("ENG", groups=["engineering", "hr"])
    server.add_space("PUB", "Handbook")
    server.set_space_readers("PUB", groups=["confluence-users"], anonymous=True)
    home = server.add_page("ENG", "Engineering Home", "<p>The salary review calendar starts in March.</p>")
    bands = server.add_page("ENG", "Salary bands", "<p>Salary bands for engineers, by level.</p>", parent=home)
    server.restrict(bands, groups=["hr"])
    ids = {
        "home": home,
        "bands": bands,
        # Restricted to two people below a page restricted to hr: only the one in hr passes both.
        "offers": server.add_page("ENG", "Salary offers 2026", "<p>Salary offers made this year.</p>", parent=bands),
        "holidays": server.add_page("PUB", "Public holidays", "<p>Salary is paid before public holidays.</p>"),
        "secret": server.add_page("PUB", "Salary audit", "<p>The salary audit report.</p>"),
    }
    server.restrict(ids["offers"], users=["hana.weber", "tom.berg"])
    server.pages[ids["secret"]].restrictions_forbidden = True
    yield server, ids
    server.stop()


def source(server: FakeConfluence) -> dict[str, Any]:
    extra = {"deployment": "cloud", "username": server.user} if server.deployment == "cloud" else {}
    return {"name": "wiki", "type": "confluence", "url": server.base, "token_env": TOKEN_ENV, "spaces": ["ENG", "PUB"],
            "max_retries": 0, **extra}


def assert_sees(index: KnowledgeIndex, access: Access, pages: dict[str, str], names: set[str]) -> None:
    expected = {f"wiki:{pages[n]}" for n in names}
    for mode in MODES:
        assert visible_ids(index, access, "salary", mode) == expected, (access.name, mode)
    for name, page in pages.items():
        assert access.allows(index.catalog.permissions_of(f"wiki:{page}")) == (name in names), (access.name, name)


def test_space_permissions_and_inherited_restrictions_decide_who_sees_a_page(
    wiki: tuple[FakeConfluence, dict[str, str]], make_index: IndexFactory
) -> None:
    server, pages = wiki
    index = make_index([source(server)], embedder=HashingEmbedder())
    assert only(Indexer(index).run()).added == 5
    d = server.deployment
    hana, tom, ida = person("hana.weber", "hr", deployment=d), person("tom.berg", "engineering", deployment=d), person("ida.lund", "engineering", "hr", deployment=d)
    outsider = person("eve.nobody", "sales", deployment=d)
    assert_sees(index, hana, pages, {"home", "bands", "offers", "holidays"})
    assert_sees(index, tom, pages, {"home", "holidays"})  # named on "offers", but not in hr, which its parent requires
    assert_sees(index, ida, pages, {"home", "bands", "holidays"})
    assert_sees(index, outsider, pages, {"holidays"})  # anonymous access to PUB: everyone

    offers = index.catalog.permissions_of(f"wiki:{pages['offers']}")
    assert offers is not None and offers.principals == {f"user:{hana.principal.user}"}  # type: ignore[union-attr]
    assert "2 page(s)" in offers.rule
    secret = index.catalog.permissions_of(f"wiki:{pages['secret']}")
    assert secret is not None and secret.principals == frozenset()
    assert f"restrictions of page {pages['secret']} cannot be read (HTTP 403)" in secret.rule
    admin = Access(name="admin", principal=Principal(user="root", admin=True))
    assert len(visible_ids(index, admin, "salary", "keyword")) == 5


def test_a_restriction_change_reaches_the_index_on_the_next_sync_without_embedding(
    wiki: tuple[FakeConfluence, dict[str, str]], make_index: IndexFactory
) -> None:
    server, pages = wiki
    embedder = HashingEmbedder()
    index = make_index([source(server)], embedder=embedder)
    Indexer(index).run()
    d = server.deployment
    hana, tom = person("hana.weber", "hr", deployment=d), person("tom.berg", "engineering", deployment=d)

    # Confluence adds no page version for a restriction: the incremental sync still sees it.
    server.restrict(pages["bands"])  # lifted: "offers" now needs only its own restriction
    server.restrict(pages["home"], groups=["engineering"])
    server.set_space_readers("PUB", groups=["hr"])
    versions = {key: version for key, (version, _) in index.catalog.document_states("wiki").items()}
    seen = len(server.requests)
    synced = only(Indexer(index).run())
    assert synced.incremental and synced.error is None
    assert (synced.updated, synced.added, synced.chunks_embedded) == (0, 0, 0)
    assert {key: version for key, (version, _) in index.catalog.document_states("wiki").items()} == versions
    assert not any("body.storage" in path for path in server.requests[seen:])  # no page loaded again
    assert_sees(index, hana, pages, {"holidays"})  # home is engineering's now, and so are the pages below it
    assert_sees(index, tom, pages, {"home", "bands", "offers"})

    # A full reconcile agrees, and a sync with nothing changed moves nothing.
    assert only(Indexer(index).run(full=True)).chunks_embedded == 0
    assert_sees(index, tom, pages, {"home", "bands", "offers"})
    assert only(Indexer(index).run()).unchanged == 5


def test_space_permissions_that_cannot_be_read_hide_the_space_from_everyone_but_admins(
    wiki: tuple[FakeConfluence, dict[str, str]], make_index: IndexFactory
) -> None:
    server, pages = wiki
    server.space_permissions_hidden.add("ENG")
    index = make_index([source(server)], embedder=HashingEmbedder())
    Indexer(index).run()
    home = index.catalog.permissions_of(f"wiki:{pages['home']}")
    assert home is not None and home.principals == frozenset()
    assert "space ENG" in home.rule
    assert_sees(index, person("ida.lund", "engineering", "hr", deployment=server.deployment), pages, {"holidays"})
    if server.deployment == "datacenter":
        # Before 9.1, Data Center has no REST resource for space permissions: the rule says what to do.
        server.space_permissions_hidden.clear()
        server.space_permissions_api = False
        Indexer(index).run()
        home = index.catalog.permissions_of(f"wiki:{pages['home']}")
        assert home is not None and home.principals == frozenset() and "set `allow`" in home.rule


def test_space_readers_named_as_users_and_cloud_accounts_without_a_visible_email(make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    for deployment in ("cloud", "datacenter"):
        server = FakeConfluence(deployment).start()
        try:
            monkeypatch.setenv(TOKEN_ENV, server.token)
            server.add_user("hana.weber", ["hr"])
            server.add_user("jon.secret", [], email_visible=False)
            server.add_space("ENG", "Engineering")
            server.add_space("PUB", "Handbook")
            server.set_space_readers("ENG", users=["hana.weber", "jon.secret"])
            page = server.add_page("ENG", "Notes", "<p>Notes.</p>")
            index = make_index([source(server)], embedder=HashingEmbedder())
            Indexer(index).run()
            recorded = index.catalog.permissions_of(f"wiki:{page}")
            assert recorded is not None
            if deployment == "cloud":
                assert recorded.principals == {"user:hana.weber" + EMAIL, f"user:{ACCOUNT_PREFIX}jon.secret"}
            else:  # listed by user key; the username comes from /rest/api/user?key=
                assert recorded.principals == {"user:hana.weber", "user:jon.secret"}
        finally:
            server.stop()


def test_rules_are_combined_without_letting_in_anyone_the_source_refuses() -> None:
    groups = {"user:hana": frozenset({"group:hr"}), "user:tom": frozenset({"group:eng"})}
    def groups_of(user: str) -> frozenset[str]:
        return groups.get(user, frozenset())

    # Every set must be passed: names in both, users through their groups, never a lone group.
    assert readers_of_all([frozenset({"group:hr", "group:board"}), frozenset({"user:hana", "user:tom", "group:board"})], groups_of) == {
        "user:hana", "group:board"
    }
    assert readers_of_all([frozenset({"*"}), frozenset({"group:eng"})], groups_of) == {"group:eng"}

    # The most specific scope with a rule decides; a denial stops broader grants.
    hr = most_specific_readers([("hr:pay", {}), ("hr:*", {"*": False, "group:hr": True}), ("*", {"*": True})], "acl")
    assert hr.principals == {"group:hr"} and "decided at hr:*" in hr.rule
    open_page = most_specific_readers([("wiki:start", {}), ("*", {"*": True, "group:user": True})], "acl")
    assert open_page.principals == {"*", "group:user"}
    denied = most_specific_readers([("eng:*", {"group:contractors": False, "user:ana": True}), ("*", {"group:staff": True})], "acl")
    assert denied.principals == {"user:ana"} and "broader grants not mirrored" in denied.rule
    assert most_specific_readers([("*", {"user:bo": True})], "acl").principals == {"user:bo"}


def test_a_restriction_longer_than_one_response_is_read_in_full(
    wiki: tuple[FakeConfluence, dict[str, str]], make_index: IndexFactory
) -> None:
    server, _ = wiki
    team = [f"analyst.{n}" for n in range(5)]
    for handle in team:
        server.add_user(handle, ["hr"])
    page = server.add_page("ENG", "Salary survey", "<p>Salary survey answers.</p>")
    server.restrict(page, users=team, groups=["board"])
    server.restriction_limit = 2  # each response names two users and two groups at most
    index = make_index([source(server)], embedder=HashingEmbedder())
    Indexer(index).run()
    recorded = index.catalog.permissions_of(f"wiki:{page}")
    suffix = "" if server.deployment == "datacenter" else EMAIL
    assert recorded is not None and recorded.principals == {f"user:{h}{suffix}" for h in team} | {"group:board"}
    assert sum(f"/content/{page}/restriction/byOperation/read" in path for path in server.requests) == 3


def test_check_warns_when_space_permissions_cannot_be_read(wiki: tuple[FakeConfluence, dict[str, str]]) -> None:
    from orgkb.connectors.confluence.connector import ConfluenceConfig, ConfluenceConnector

    server, _ = wiki
    config = ConfluenceConfig.model_validate(source(server))
    with ConfluenceConnector(config) as connector:
        assert connector.check() == []
    server.space_permissions_hidden.add("ENG")
    with ConfluenceConnector(config) as connector:
        (warning,) = connector.check()
    assert "space ENG" in warning and "administrators only" in warning
    with ConfluenceConnector(config.model_copy(update={"allow": ["group:staff"]})) as connector:
        assert connector.check() == []  # `allow` decides instead
