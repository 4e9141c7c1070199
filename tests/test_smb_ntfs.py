"""NTFS permissions of files on an SMB share of a real Active Directory domain (Samba AD DC,
tests/samba_ad.py): ACLs set with ``smbcacls``, SIDs named through LDAP, enforced inside both
indexes before the top-k cut, deny entries winning, and an ACL change reaching the index on the
next sync without embedding anything again.

A hashing embedder keeps indexing fast: this is about permission plumbing, not meaning.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

import pytest

from orgkb.connectors.ntfs_permissions import ntfs_permissions, parse_security_descriptor
from orgkb.connectors.registry import open_connector
from orgkb.connectors.smb import SmbConfig
from orgkb.server.app.access import Access
from orgkb.server.app.principal import Principal
from orgkb.server.config.identity import LdapConfig
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.identity.ldap import LdapDirectory
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.search.searcher import Searcher
from orgkb.server.store.filters import SearchFilters
from tests.conftest import IndexFactory

MODES = ["hybrid", "semantic", "keyword"]
PASSWORD_ENV = "ORGKB_TEST_AD_PASSWORD"
_folders = itertools.count()


@pytest.fixture
def domain(samba_domain: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(PASSWORD_ENV, samba_domain.admin_password)
    return samba_domain


def _ldap(domain: Any) -> dict[str, Any]:
    return {"url": domain.ldap_url, "bind_dn": domain.admin, "password_env": PASSWORD_ENV, "base_dn": domain.base_dn}


def _people(domain: Any) -> dict[str, Access]:
    """Callers whose groups come from the directory, as they would for a token without groups."""
    directory = LdapDirectory(LdapConfig(**_ldap(domain)), password=domain.admin_password)
    try:
        return {
            user: Access(name=user, principal=Principal(user=user, groups=directory.groups_of(user)))
            for user in ("alice", "bob", "carol")
        }
    finally:
        directory.close()


@pytest.fixture
def share(domain: Any) -> str:
    """A folder of the domain's share with four files and their ACLs (Domain Admins always full)."""
    folder = f"ntfs-{next(_folders)}"
    files = {
        "hr.md": ("# Salaries\n\nThe salary bands budget for next year.\n", ["ORGKB\\hr:ALLOWED/0x0/READ"]),
        "finance.md": ("# Ledger\n\nThe finance budget ledger for the quarter.\n", ["ORGKB\\finance:ALLOWED/0x0/READ"]),
        "open.md": ("# Canteen\n\nThe canteen budget covers fruit.\n", ["Everyone:ALLOWED/0x0/READ"]),
        # hr may read it, but carol (a member of hr) is refused: the deny wins.
        "board.md": ("# Board\n\nThe board budget minutes.\n", ["ORGKB\\carol:DENIED/0x0/READ", "ORGKB\\hr:ALLOWED/0x0/READ"]),
    }
    for name, (text, aces) in files.items():
        domain.write(f"{folder}/{name}", text)
        domain.set_acl(f"{folder}/{name}", *aces)
    return folder


def _source(folder: str) -> dict[str, Any]:
    """The domain's ``docs`` share, read as its administrator (who may read every file)."""
    return {
        "name": "share", "type": "smb", "server": "127.0.0.1", "share": "docs", "path": folder,
        "username": "Administrator", "domain": "ORGKB", "password_env": PASSWORD_ENV,
    }


def _index(make_index: IndexFactory, domain: Any, folder: str, embedder: HashingEmbedder | None = None, **sections: Any) -> KnowledgeIndex:
    identity = {"directory": "ldap", "ldap": _ldap(domain)}
    return make_index([_source(folder)], embedder=embedder or HashingEmbedder(), identity=identity, **sections)


def _hits(index: KnowledgeIndex, access: Access, mode: str, limit: int = 20) -> set[str]:
    filters = SearchFilters(principals=access.principal_names)
    response = Searcher(index).search("budget", limit=limit, mode=mode, filters=filters, max_chunks_per_document=1)  # type: ignore[arg-type]
    return {h.doc_id.removeprefix("share:") for h in response.hits}


def test_ntfs_acls_decide_who_finds_a_file(domain: Any, share: str, make_index: IndexFactory) -> None:
    index = _index(make_index, domain, share)
    summary = Indexer(index).run()
    assert summary.total("failed") == 0 and summary.sources[0].error is None, summary
    hr = index.catalog.permissions_of("share:hr.md")
    assert hr is not None and hr.principals == {"group:hr", "group:Domain Admins"} and not hr.denied
    assert hr.rule == "NTFS DACL: allow group:Domain Admins, allow group:hr"
    board = index.catalog.permissions_of("share:board.md")
    assert board is not None and board.denied == {"user:carol"} and "deny user:carol" in board.rule
    people = _people(domain)
    expected = {
        "alice": {"hr.md", "open.md", "board.md"},  # hr through the nested hr-leads
        "bob": {"finance.md", "open.md"},
        "carol": {"hr.md", "open.md"},  # in hr, but denied the board minutes
    }
    for user, visible in expected.items():
        for mode in MODES:
            assert _hits(index, people[user], mode) == visible, (user, mode)
        for name in ("hr.md", "finance.md", "open.md", "board.md"):
            assert people[user].allows(index.catalog.permissions_of(f"share:{name}")) == (name in visible), (user, name)


def test_an_acl_change_reaches_the_index_without_embedding(
    domain: Any, share: str, make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orgkb.connectors.smb import SmbTree

    embedder = HashingEmbedder()
    index = _index(make_index, domain, share, embedder)
    Indexer(index).run()
    people = _people(domain)
    assert "hr.md" not in _hits(index, people["bob"], "keyword")
    domain.smbcacls(f"{share}/hr.md", "--add", "ACL:ORGKB\\finance:ALLOWED/0x0/READ")  # finance may read it now
    domain.smbcacls(f"{share}/open.md", "--add", "ACL:ORGKB\\bob:DENIED/0x0/READ")  # bob is refused the canteen
    domain.smbcacls(f"{share}/board.md", "--modify", "ACL:ORGKB\\hr:ALLOWED/0x0/RWD")  # still read for hr: same readers
    embedded_before = len(embedder.embedded_texts)
    reads: list[str] = []
    original_read = SmbTree.read
    monkeypatch.setattr(SmbTree, "read", lambda self, path: reads.append(path) or original_read(self, path))
    summary = Indexer(index).run()
    assert summary.total("chunks_embedded") == 0 and summary.total("updated") == 0 and summary.total("failed") == 0
    assert len(embedder.embedded_texts) == embedded_before
    assert reads == []  # the permissions came with the listing: no file was read again
    for mode in MODES:
        assert _hits(index, people["bob"], mode) == {"finance.md", "hr.md"}, mode
        assert _hits(index, people["alice"], mode) == {"hr.md", "open.md", "board.md"}, mode
    assert Indexer(index).run().total("unchanged") == 4  # nothing moves on the sync after that


def test_a_filtered_search_still_fills_its_limit(domain: Any, make_index: IndexFactory) -> None:
    folder = f"ntfs-many-{next(_folders)}"
    # Thirty finance files match better than anything hr may read: filtering after the candidate
    # cut (candidates = 10) would leave alice with nothing.
    for n in range(30):
        domain.write(f"{folder}/fin-{n:02d}.md", f"# Budget {n}\n\nBudget budget budget budget {n}.\n")
        domain.set_acl(f"{folder}/fin-{n:02d}.md", "ORGKB\\finance:ALLOWED/0x0/READ")
    for n in range(5):
        domain.write(f"{folder}/hr-{n}.md", f"# Note {n}\n\nA note that mentions the budget, number {n}.\n")
        domain.set_acl(f"{folder}/hr-{n}.md", "ORGKB\\hr:ALLOWED/0x0/READ")
    index = _index(make_index, domain, folder, search={"candidates": 10})
    Indexer(index).run()
    alice = _people(domain)["alice"]
    for mode in MODES:
        found = _hits(index, alice, mode, limit=5)
        assert len(found) == 5 and all(name.startswith("hr-") for name in found), (mode, found)


def test_without_a_directory_sids_match_nobody_and_denies_close_the_file(domain: Any, share: str, make_index: IndexFactory) -> None:
    index = make_index([_source(share)], embedder=HashingEmbedder())  # no [identity] directory
    Indexer(index).run()
    hr = index.catalog.permissions_of("share:hr.md")
    assert hr is not None and all(p.startswith("sid:S-1-5-21-") for p in hr.principals)
    board = index.catalog.permissions_of("share:board.md")
    assert board is not None and board.principals == frozenset() and "deny entries cannot be resolved" in board.rule
    everyone = Access(name="x", principal=Principal(user="alice", groups=frozenset({"hr"})))
    assert _hits(index, everyone, "keyword") == {"open.md"}


def test_a_descriptor_the_account_cannot_read_is_for_administrators_only(
    domain: Any, make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = f"ntfs-limited-{next(_folders)}"
    read_data_only = "0x00100089"  # FILE_READ_DATA, _EA, _ATTRIBUTES, SYNCHRONIZE: "R" without READ_CONTROL
    domain.write(f"{folder}/secret.md", "# Secret\n\nThe secret budget.\n")
    domain.set_acl(f"{folder}/secret.md", f"ORGKB\\indexer:ALLOWED/0x0/{read_data_only}")
    domain.write(f"{folder}/open.md", "# Open\n\nThe open budget.\n")
    domain.set_acl(f"{folder}/open.md", "Everyone:ALLOWED/0x0/READ")
    monkeypatch.setenv("ORGKB_TEST_INDEXER_PASSWORD", domain.users["indexer"])
    source = {**_source(folder), "username": "indexer", "password_env": "ORGKB_TEST_INDEXER_PASSWORD"}
    with open_connector(SmbConfig.model_validate(source)) as connector:
        assert connector.check() == []  # the folder's own permissions are readable
    domain.set_acl(folder, "ORGKB\\indexer:ALLOWED/0x0/0x001000A9")  # list and traverse, no READ_CONTROL
    with open_connector(SmbConfig.model_validate(source)) as connector:
        warnings = connector.check()
    assert warnings == [
        f"cannot read the NTFS permissions of folder '{folder}': access denied to ORGKB\\indexer (it needs READ_CONTROL); "
        "files it cannot read them for are shown to orgkb's administrators only"
    ]
    index = make_index([source], embedder=HashingEmbedder(), identity={"directory": "ldap", "ldap": _ldap(domain)})
    summary = Indexer(index).run()
    assert summary.total("failed") == 0 and summary.total("added") == 2, summary
    secret = index.catalog.permissions_of("share:secret.md")
    assert secret is not None and secret.principals == frozenset()
    assert secret.rule == "cannot read the NTFS permissions: access denied to ORGKB\\indexer (it needs READ_CONTROL)"
    anyone = Access(name="x", principal=Principal(user="alice", groups=frozenset({"hr"})))
    assert _hits(index, anyone, "keyword") == {"open.md"}
    admin = Access(name="admin", principal=Principal(user="root", admin=True))
    assert _hits(index, admin, "keyword") == {"open.md", "secret.md"}


# --- the descriptor's rules, on descriptors built byte by byte -------------------------------


def _sid(text: str) -> bytes:
    parts = [int(p) for p in text.split("-")[1:]]
    return struct.pack("<BB", parts[0], len(parts) - 2) + parts[1].to_bytes(6, "big") + struct.pack(f"<{len(parts) - 2}I", *parts[2:])


def _descriptor(aces: list[tuple[int, int, int, str]] | None) -> bytes:
    owner = _sid("S-1-5-21-1-2-3-500")
    body = b""
    for kind, flags, mask, sid in aces or []:
        raw = _sid(sid)
        body += struct.pack("<BBHI", kind, flags, 8 + len(raw), mask) + raw
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(body), len(aces or []), 0) + body
    control = 0x8000 | (0x0004 if aces is not None else 0)
    header = struct.pack("<BBHIIII", 1, 0, control, 20, 0, 0, 20 + len(owner) if aces is not None else 0)
    return header + owner + (acl if aces is not None else b"")


def test_descriptor_rules() -> None:
    read, write, generic_read, full = 0x001200A9, 0x00000116, 0x80000000, 0x001F01FF
    permissions = ntfs_permissions(_descriptor([
        (0, 0, read, "S-1-5-21-1-2-3-1105"),
        (0, 0, write, "S-1-5-21-1-2-3-1106"),  # writing only: not a reader
        (0, 0x08, read, "S-1-5-21-1-2-3-1107"),  # inherit-only: for children, not this file
        (0, 0x10, generic_read, "S-1-5-11"),  # inherited, Authenticated Users: everyone
        (0, 0, full, "S-1-5-18"),  # SYSTEM: no caller
        (1, 0, write, "S-1-5-21-1-2-3-1108"),  # denies writing only: still may read
        (1, 0x10, read, "S-1-5-21-1-2-3-1109"),
    ]))
    assert permissions.principals == {"sid:S-1-5-21-1-2-3-1105", "*"}
    assert permissions.denied == {"sid:S-1-5-21-1-2-3-1109"}
    assert "allow * (inherited)" in permissions.rule and "deny sid:S-1-5-21-1-2-3-1109 (inherited)" in permissions.rule
    assert ntfs_permissions(_descriptor(None)).principals == {"*"}  # no DACL: everyone
    empty = ntfs_permissions(_descriptor([]))
    assert empty.principals == frozenset() and "no entry grants reading" in empty.rule  # empty DACL: nobody
    broken = ntfs_permissions(_descriptor([(0, 0, read, "S-1-5-21-1-2-3-1105")])[:40])
    assert broken.principals == frozenset() and broken.rule.startswith("cannot read the NTFS permissions")
    assert parse_security_descriptor(_descriptor([])).owner == "S-1-5-21-1-2-3-500"
