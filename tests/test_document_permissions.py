"""Per-document permissions of local files: captured from POSIX owner, group, mode and ACLs of
real system users and groups, enforced inside both indexes before the top-k cut, and kept
current on the next sync without embedding anything again.

A hashing embedder keeps indexing fast: this is about plumbing, not meaning (the real stack
over HTTP is in tests/test_oidc_auth.py).
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from orgkb.connectors.permissions import Permissions
from orgkb.server.app.access import Access
from orgkb.server.app.principal import Principal
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.search.searcher import Searcher
from orgkb.server.store.filters import SearchFilters

from tests.conftest import IndexFactory
from tests.system_accounts import system_accounts as created_accounts
from tests.system_accounts import write_owned

MODES = ["hybrid", "semantic", "keyword"]
USERS = {"orgkbtalice": "orgkbtfin", "orgkbtbob": "orgkbteng"}
ALICE = Access(name="alice", principal=Principal(user="orgkbtalice", groups=frozenset({"orgkbtfin"})))
BOB = Access(name="bob", principal=Principal(user="orgkbtbob", groups=frozenset({"orgkbteng"})))
CAROL = Access(name="carol", principal=Principal(user="orgkbtcarol", groups=frozenset({"orgkbtfin"})))
DAVE = Access(name="dave", principal=Principal(user="orgkbtdave", groups=frozenset({"orgkbteng"})))


@pytest.fixture(scope="session")
def system_accounts() -> Iterator[dict[str, str]]:
    """Real users and groups on this machine (removed again afterwards)."""
    with created_accounts(USERS) as accounts:
        yield accounts


_write = write_owned


def _hits(index: KnowledgeIndex, access: Access, query: str, mode: str, limit: int = 50) -> list[str]:
    filters = SearchFilters(principals=access.principal_names)
    response = Searcher(index).search(query, limit=limit, mode=mode, filters=filters, max_chunks_per_document=1)  # type: ignore[arg-type]
    return [h.doc_id for h in response.hits]


@pytest.fixture
def tree(tmp_path: Path, system_accounts: dict[str, str]) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs / "budget.md", "# Budget\n\nThe finance budget for travel is 12,000 EUR.\n", "orgkbtalice", "orgkbtfin", 0o640)
    _write(docs / "roadmap.md", "# Roadmap\n\nThe engineering budget buys build servers.\n", "orgkbtbob", "orgkbteng", 0o640)
    _write(docs / "canteen.md", "# Canteen\n\nThe canteen budget covers fruit on Mondays.\n", "orgkbtbob", "orgkbteng", 0o644)
    _write(docs / "diary.md", "# Diary\n\nMy own budget notes.\n", "orgkbtalice", "orgkbtfin", 0o600)
    return docs


def test_posix_permissions_decide_who_finds_a_file(tree: Path, make_index: IndexFactory) -> None:
    index = make_index([{"name": "share", "type": "files", "paths": [str(tree)]}], embedder=HashingEmbedder())
    Indexer(index).run()
    recorded = index.catalog.permissions_of("share:budget.md")
    assert recorded == Permissions(
        principals=frozenset({"user:orgkbtalice", "group:orgkbtfin"}), rule="posix mode 0640, owner orgkbtalice, group orgkbtfin"
    )
    expected = {
        ALICE: {"share:budget.md", "share:canteen.md", "share:diary.md"},
        BOB: {"share:roadmap.md", "share:canteen.md"},
        CAROL: {"share:budget.md", "share:canteen.md"},  # another finance member: not alice's 0600 diary
    }
    for access, visible in expected.items():
        for mode in MODES:
            assert set(_hits(index, access, "budget", mode)) == visible, (access.name, mode)
        assert all(access.allows(index.catalog.permissions_of(f"share:{p.name}")) == (f"share:{p.name}" in visible) for p in tree.iterdir())
    admin = Access(name="admin", principal=Principal(user="root", admin=True))
    assert len(_hits(index, admin, "budget", "keyword")) == 4 and admin.principal_names is None


def test_a_permission_change_reaches_the_index_without_embedding(
    tree: Path, make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orgkb.connectors.files import LocalTree

    embedder = HashingEmbedder()
    index = make_index([{"name": "share", "type": "files", "paths": [str(tree)]}], embedder=embedder)
    Indexer(index).run()
    assert "share:roadmap.md" not in _hits(index, ALICE, "budget", "semantic")
    shutil.chown(tree / "roadmap.md", group="orgkbtfin")  # chgrp
    (tree / "budget.md").chmod(0o600)  # finance loses it; alice keeps it as its owner
    reads: list[str] = []
    original_read = LocalTree.read
    monkeypatch.setattr(LocalTree, "read", lambda self, path: reads.append(path) or original_read(self, path))
    summary = Indexer(index).run()
    assert summary.total("chunks_embedded") == 0 and summary.total("updated") == 0
    assert reads == []  # the permissions came with the listing: no file was read again
    for mode in MODES:
        assert "share:roadmap.md" in _hits(index, ALICE, "budget", mode), mode
        assert "share:roadmap.md" not in _hits(index, DAVE, "budget", mode), mode  # engineering lost it
        assert "share:roadmap.md" in _hits(index, BOB, "budget", mode), mode  # its owner did not
        assert "share:budget.md" not in _hits(index, CAROL, "budget", mode), mode
        assert "share:budget.md" in _hits(index, ALICE, "budget", mode), mode
    assert Indexer(index).run().total("unchanged") == 4  # and nothing moves on a sync after that


def test_a_filtered_search_still_fills_its_limit(tmp_path: Path, system_accounts: dict[str, str], make_index: IndexFactory) -> None:
    docs = tmp_path / "many"
    docs.mkdir()
    # Sixty engineering files match the query better than anything finance may read, so a
    # filter applied after the candidate cut (candidates = 10) would leave finance with nothing.
    for n in range(60):
        _write(docs / f"eng-{n:02d}.md", f"# Travel budget {n}\n\nTravel budget travel budget travel budget {n}.\n", "orgkbtbob", "orgkbteng", 0o640)
    for n in range(6):
        _write(docs / f"fin-{n}.md", f"# Ledger {n}\n\nA ledger line about the travel budget, number {n}.\n", "orgkbtalice", "orgkbtfin", 0o640)
    index = make_index([{"name": "share", "type": "files", "paths": [str(docs)]}], embedder=HashingEmbedder(), search={"candidates": 10})
    Indexer(index).run()
    for mode in MODES:
        found = _hits(index, ALICE, "travel budget", mode, limit=5)
        assert len(found) == 5 and all(d.startswith("share:fin-") for d in found), (mode, found)


def test_posix_acls_add_named_readers(tree: Path, make_index: IndexFactory) -> None:
    import grp

    path = tree / "roadmap.md"  # 0640 orgkbtbob:orgkbteng
    fin = grp.getgrnam("orgkbtfin").gr_gid
    # user::rw- group::r-- group:orgkbtfin:r-- mask::r-- other::--- in Linux's xattr format.
    entries = [(0x01, 6, 0xFFFFFFFF), (0x04, 4, 0xFFFFFFFF), (0x08, 4, fin), (0x10, 4, 0xFFFFFFFF), (0x20, 0, 0xFFFFFFFF)]
    try:
        os.setxattr(path, "system.posix_acl_access", struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries))
    except OSError as exc:
        pytest.skip(f"this filesystem keeps no POSIX ACLs: {exc}")
    index = make_index([{"name": "share", "type": "files", "paths": [str(tree)]}], embedder=HashingEmbedder())
    Indexer(index).run()
    recorded = index.catalog.permissions_of("share:roadmap.md")
    assert recorded is not None and recorded.principals == {"user:orgkbtbob", "group:orgkbteng", "group:orgkbtfin"}
    assert "share:roadmap.md" in _hits(index, CAROL, "budget", "keyword")


def test_a_source_allow_list_replaces_what_the_files_say(tree: Path, make_index: IndexFactory) -> None:
    index = make_index(
        [{"name": "share", "type": "files", "paths": [str(tree)], "allow": ["group:orgkbteng"]}], embedder=HashingEmbedder()
    )
    Indexer(index).run()
    assert set(_hits(index, BOB, "budget", "hybrid")) == {f"share:{p.name}" for p in tree.iterdir()}
    assert _hits(index, ALICE, "budget", "hybrid") == []


def test_notifications_name_only_documents_the_caller_may_read(tree: Path, make_index: IndexFactory) -> None:
    """resources/updated and list_changed follow per-document permissions, deletions included."""
    from mcp.server.subscriptions import InMemorySubscriptionBus

    from orgkb.server.app.service import OrgkbService
    from orgkb.server.index.indexer import IndexChange
    from orgkb.server.mcp.notify import SessionHub

    index = make_index([{"name": "share", "type": "files", "paths": [str(tree)]}], embedder=HashingEmbedder())
    changes: list[IndexChange] = []
    Indexer(index, on_change=changes.append).run()
    hub = SessionHub(OrgkbService(index), InMemorySubscriptionBus())
    added = changes[-1]

    def names(uris: list[str]) -> set[str]:
        return {uri.rsplit("/", 1)[-1] for uri in uris}

    assert names(hub.audible(ALICE, added)[0]) == {"budget.md", "canteen.md", "diary.md"}
    assert names(hub.audible(BOB, added)[0]) == {"roadmap.md", "canteen.md"}
    assert hub.audible(BOB, added)[1]  # canteen appeared for bob: his list changed

    (tree / "budget.md").unlink()
    (tree / "diary.md").unlink()
    Indexer(index, on_change=changes.append).run()
    deleted = changes[-1]
    assert sorted(deleted.deleted) == ["share:budget.md", "share:diary.md"]
    assert deleted.deleted_permissions["share:diary.md"] == Permissions(
        principals=frozenset({"user:orgkbtalice"}), rule="posix mode 0600, owner orgkbtalice, group orgkbtfin"
    )
    assert hub.audible(BOB, deleted) == ([], False)  # bob never could read them: he hears nothing
    assert names(hub.audible(CAROL, deleted)[0]) == {"budget.md"}  # finance could read the budget, not the diary
    assert names(hub.audible(ALICE, deleted)[0]) == {"budget.md", "diary.md"} and hub.audible(ALICE, deleted)[1]
    limited = Access(name="elsewhere", sources=frozenset({"other"}))
    assert hub.audible(limited, added) == ([], False)

    # A permission change alone (chgrp): the document appears for finance and goes for engineering.
    shutil.chown(tree / "roadmap.md", group="orgkbtfin")
    summary = Indexer(index, on_change=changes.append).run()
    regranted = changes[-1]
    assert summary.total("chunks_embedded") == 0 and list(regranted.regranted) == ["share:roadmap.md"]
    assert (names(hub.audible(CAROL, regranted)[0]), hub.audible(CAROL, regranted)[1]) == ({"roadmap.md"}, True)
    assert hub.audible(DAVE, regranted) == ([], True)  # engineering lost it: its list changed, nothing to read
    assert hub.audible(BOB, regranted)[1] is False  # the owner reads it before and after


def test_the_catalog_has_the_last_word_over_stale_vector_permissions(tree: Path, make_index: IndexFactory) -> None:
    """Vectors whose permission metadata disagrees with the catalog (a crash between the two
    writes) never show a document to someone the catalog does not allow."""
    from orgkb.server.app.service import OrgkbService
    from orgkb.server.store.filters import acl_metadata

    index = make_index([{"name": "share", "type": "files", "paths": [str(tree)]}], embedder=HashingEmbedder())
    Indexer(index).run()
    chunk_ids = [c.chunk_id for c in index.catalog.document_chunks("share:diary.md")]
    index.store.update_metadata(chunk_ids, [acl_metadata(frozenset({"user:orgkbtbob"}))] * len(chunk_ids))
    assert "share:diary.md" in _hits(index, BOB, "diary budget notes", "semantic")  # the stale vectors match bob
    service = OrgkbService(index)
    for mode in MODES:
        found = [h.doc_id for h in service.for_caller(BOB).search("diary budget notes", mode=mode, limit=10).hits]  # type: ignore[arg-type]
        assert "share:diary.md" not in found and "share:canteen.md" in found, (mode, found)
    found = [h.doc_id for h in service.for_caller(ALICE).search("diary budget notes", mode="keyword", limit=10).hits]
    assert "share:diary.md" in found  # its owner still finds it where the catalog decides
