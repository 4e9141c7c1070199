"""MediaWiki read rights mirrored into the index, against the real MediaWiki 1.39 of the tests
(anonymous visitors may not read; the ``noread`` group has the right revoked): the groups that
hold ``read``, accounts by name where a revocation hides members, everyone when ``*`` reads,
and a change of LocalSettings.php reaching the index on the next sync without embedding.

The wiki is shared by the session and each index lists all of it; this test's page has its
own title. A hashing embedder: this is about who sees what, not meaning.
"""

from __future__ import annotations

import pytest

from orgkb.server.app.access import Access
from orgkb.server.app.principal import Principal
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import IndexFactory
from tests.search_helpers import only, visible_ids
from tests.wikiservers import MW_READER, MediaWikiServer

pytestmark = pytest.mark.slow

READER_ENV = "ORGKB_TEST_MW_READER"
PAGE = "Expense claims (permissions)"
DOC = f"wiki:{PAGE}"
READER = Access(name="reader", principal=Principal(user="Reader", groups=frozenset({"user"})))
OUTSIDER = Access(name="outsider", principal=Principal(user="Outsider", groups=frozenset({"user", "noread"})))
MEMBER = Access(name="member", principal=Principal(user="Newcomer", groups=frozenset({"user"})))
GUEST = Access(name="guest", principal=Principal(user="guest"))


def sees(index: KnowledgeIndex, access: Access) -> bool:
    shown = all(DOC in visible_ids(index, access, "expense claims receipts", mode) for mode in ("hybrid", "semantic", "keyword"))
    assert shown == access.allows(index.catalog.permissions_of(DOC)), access.name
    return shown


def test_read_rights_decide_who_sees_the_wiki_and_follow_a_settings_change(
    mediawiki_server: MediaWikiServer, make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(READER_ENV, MW_READER[1])
    wiki = mediawiki_server
    wiki.edit(PAGE, "Expense claims need receipts and are paid with the next salary.")
    source = {"name": "wiki", "type": "mediawiki", "url": wiki.url, "username": MW_READER[0], "password_env": READER_ENV}
    index = make_index([source], embedder=HashingEmbedder())
    assert only(Indexer(index).run()).error is None

    # `user` holds read, but it is revoked from `noread` (Outsider): readers are named one by one.
    recorded = index.catalog.permissions_of(DOC)
    assert recorded is not None and "revoked from Outsider" in recorded.rule
    assert {"user:Reader", "user:Admin"} <= recorded.principals and "user:Outsider" not in recorded.principals
    assert [sees(index, a) for a in (READER, OUTSIDER, MEMBER, GUEST)] == [True, False, False, False]

    # Without the revocation, every member of `user` reads; no revision changed, nothing is embedded.
    with wiki.settings_added("$wgRevokePermissions = [];"):
        synced = only(Indexer(index).run())
        assert synced.error is None and (synced.updated, synced.chunks_embedded) == (0, 0)
        assert "group:user" in index.catalog.permissions_of(DOC).principals  # type: ignore[union-attr]
        assert [sees(index, a) for a in (READER, OUTSIDER, MEMBER, GUEST)] == [True, True, True, False]

    # Anonymous visitors reading means everyone does.
    with wiki.settings_added("$wgGroupPermissions['*']['read'] = true;"):
        synced = only(Indexer(index).run())
        assert (synced.updated, synced.chunks_embedded) == (0, 0)
        assert index.catalog.permissions_of(DOC).principals == {"*"}  # type: ignore[union-attr]
        assert sees(index, GUEST)

    # Back as it was; with nothing changed the sync after that is incremental again.
    Indexer(index).run()
    assert [sees(index, a) for a in (READER, OUTSIDER, MEMBER, GUEST)] == [True, False, False, False]
    assert only(Indexer(index).run()).incremental
