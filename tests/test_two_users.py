"""Issue 13's acceptance: two people in different groups, each with a token from a real OpenID
Connect provider, ask the same question over Streamable HTTP; each sees only the documents their
groups may open at the source, cannot open the other's by uri (fetch), resources/read,
completion or prompt, and a permission changed at the source and synced changes who sees a
document with zero chunks embedded.

Every kind of source is one `SourceCase`: a builder makes one document only hr may open and one
only finance may open, and knows how to hand the hr one to finance at the source; every test
runs over each. The cases: a local folder (POSIX group and mode of real system groups), a SQLite
table with a row-groups column, Confluence page restrictions (our test server, in Data Center's
documented shapes), and an SMB share of a real Active Directory domain (Samba AD DC) whose NTFS
ACLs name domain groups, resolved over LDAP. Also real: the npm `oidc-provider`, `orgkb serve`
as a subprocess, the real model.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference

from orgkb.connectors.identifiers import DOCUMENT_TEMPLATE, document_uri
from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import write_config
from tests.fake_confluence import FakeConfluence
from tests.mcp_helpers import all_resources, hit_doc_id, oauth_server
from tests.oidc_server import IdpUser, OidcProvider, missing
from tests.samba_server import free_port
from tests.system_accounts import system_accounts, write_owned
from tests.test_mcp_http import session

pytestmark = pytest.mark.slow

ALICE, BOB = "orgkb2alice", "orgkb2bob"
HR, FINANCE = "orgkb2hr", "orgkb2fin"
GROUP_OF = {ALICE: HR, BOB: FINANCE}
QUERY = "pension scheme contribution rates"


@dataclass
class SourceCase:
    """One source with a document for each group, and how to change its permissions at the source."""

    name: str
    source: dict[str, Any]
    documents: dict[str, str]  # group -> key of the document only that group may open
    hand_hr_document_to_finance: Callable[[], None]
    stop: Callable[[], None] = lambda: None  # stops a server the case started
    identity: dict[str, Any] | None = None  # the [identity] config the source needs (SID names)
    env: dict[str, str] = field(default_factory=dict)  # secrets the indexer and the server read

    def doc_id(self, group: str) -> str:
        return f"{self.name}:{self.documents[group]}"


def files_case(root: Path) -> SourceCase:
    """A local folder: POSIX group and mode decide."""
    docs = root / "folder"
    docs.mkdir()
    docs.chmod(0o755)
    write_owned(docs / "hr-pension.md", "# HR pension scheme\n\nPension scheme contribution rates for staff: 6 percent.\n", "root", HR, 0o640)
    write_owned(docs / "fin-pension.md", "# Finance pension ledger\n\nPension scheme contribution rates booked: 7 percent.\n", "root", FINANCE, 0o640)
    write_owned(docs / "welcome.md", "# Welcome\n\nThe canteen opens at eight.\n", "root", "root", 0o644)

    def regrant() -> None:
        import shutil

        shutil.chown(docs / "hr-pension.md", group=FINANCE)

    return SourceCase("folder", {"type": "files", "paths": [str(docs)]}, {HR: "hr-pension.md", FINANCE: "fin-pension.md"}, regrant)


def sql_case(root: Path) -> SourceCase:
    """A SQL table whose `visible_to` column names the groups that may see each row."""
    path = root / "people.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (note_id INTEGER PRIMARY KEY, body TEXT, visible_to TEXT)")
        db.executemany("INSERT INTO notes VALUES (?, ?, ?)", [
            (1, "HR note: the pension scheme contribution rates rise to 6 percent in May.", HR),
            (2, "Finance note: pension scheme contribution rates cost 7 percent of payroll.", FINANCE),
        ])

    def regrant() -> None:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE notes SET visible_to = ? WHERE note_id = 1", (FINANCE,))

    source = {
        "type": "sql", "url": f"sqlite:///{path}", "schema_documents": False,
        "tables": [{"table": "notes", "id": "note_id", "title": "Note {note_id}", "text": ["body"], "row_groups_column": "visible_to"}],
    }
    return SourceCase("notes", source, {HR: "notes/1", FINANCE: "notes/2"}, regrant)


CONFLUENCE_TOKEN_ENV = "ORGKB_TEST_TWO_USERS_CONFLUENCE"


def confluence_case(root: Path) -> SourceCase:
    """A Confluence (Data Center) space both groups may view, each page restricted to one group."""
    wiki = FakeConfluence("datacenter").start()
    os.environ[CONFLUENCE_TOKEN_ENV] = wiki.token  # read by the indexer here and the server it starts
    for user, group in GROUP_OF.items():
        wiki.add_user(user, [group])
    wiki.add_space("PEN", "Pensions")
    wiki.set_space_readers("PEN", groups=[HR, FINANCE])
    hr_page = wiki.add_page("PEN", "HR pension scheme", "<p>Pension scheme contribution rates for staff: 6 percent.</p>")
    fin_page = wiki.add_page("PEN", "Finance pension ledger", "<p>Pension scheme contribution rates booked: 7 percent.</p>")
    wiki.restrict(hr_page, groups=[HR])
    wiki.restrict(fin_page, groups=[FINANCE])

    def stop() -> None:
        wiki.stop()
        os.environ.pop(CONFLUENCE_TOKEN_ENV, None)

    source = {"type": "confluence", "url": wiki.base, "token_env": CONFLUENCE_TOKEN_ENV, "spaces": ["PEN"], "max_retries": 0}
    return SourceCase(
        "wiki", source, {HR: hr_page, FINANCE: fin_page}, lambda: wiki.restrict(hr_page, groups=[FINANCE]), stop
    )


AD_PASSWORD_ENV = "ORGKB_TEST_TWO_USERS_AD_PASSWORD"


def smb_case(root: Path, request: pytest.FixtureRequest) -> SourceCase:
    """A share of a real Active Directory domain (Samba AD DC): NTFS ACLs grant each file to one
    domain group, whose SID the LDAP directory names as the group the tokens carry."""
    domain = request.getfixturevalue("samba_domain")
    existing = set(domain.tool("group", "list").split())
    for group in (HR, FINANCE):
        if group not in existing:
            domain.tool("group", "add", group)
    files = {HR: "hr-pension.md", FINANCE: "fin-pension.md"}
    texts = {HR: "Pension scheme contribution rates for staff: 6 percent.", FINANCE: "Pension scheme contribution rates booked: 7 percent."}
    for group, name in files.items():
        domain.write(f"two-users/{name}", f"# Pension ({group})\n\n{texts[group]}\n")
        domain.set_acl(f"two-users/{name}", f"ORGKB\\{group}:ALLOWED/0x0/READ")
    source = {
        "type": "smb", "server": "127.0.0.1", "share": "docs", "path": "two-users",
        "username": "Administrator", "domain": "ORGKB", "password_env": AD_PASSWORD_ENV,
    }
    ldap = {"url": domain.ldap_url, "bind_dn": domain.admin, "password_env": AD_PASSWORD_ENV, "base_dn": domain.base_dn}
    return SourceCase(
        "drive", source, files, lambda: domain.set_acl("two-users/hr-pension.md", f"ORGKB\\{FINANCE}:ALLOWED/0x0/READ"),
        identity={"directory": "ldap", "ldap": ldap}, env={AD_PASSWORD_ENV: domain.admin_password},
    )


CASES: dict[str, Callable[[Path, pytest.FixtureRequest], SourceCase]] = {
    "files": lambda root, _: files_case(root),
    "sql": lambda root, _: sql_case(root),
    "confluence": lambda root, _: confluence_case(root),
    "smb": smb_case,
}


@dataclass
class Deployment:
    url: str
    idp: OidcProvider
    cases: dict[str, SourceCase]
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    @asynccontextmanager
    async def session_of(self, user: str) -> AsyncIterator[ClientSession]:
        async with session(self.url, self.idp.token(user, self.url)) as connected:
            yield connected


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    with system_accounts(GROUP_OF):
        root = tmp_path_factory.mktemp("two-users")
        root.chmod(0o755)
        idp = OidcProvider(root, {user: IdpUser([group]) for user, group in GROUP_OF.items()}).start()
        cases: dict[str, SourceCase] = {}
        try:
            for name, build in CASES.items():
                cases[name] = build(root, request)
            secrets = {k: v for case in cases.values() for k, v in case.env.items()}
            os.environ.update(secrets)  # the indexer below reads them here; the server gets them too
            identity = next((case.identity for case in cases.values() if case.identity), None)
            sources = [{"name": case.name, **case.source} for case in cases.values()]
            port = free_port(0)
            url = f"http://127.0.0.1:{port}/mcp"
            auth = {"issuer": idp.issuer, "audience": url, "user_claim": "preferred_username"}
            sections: dict[str, Any] = {"server.auth": auth, **({"identity": identity} if identity else {})}
            config = write_config(root / "orgkb.toml", sources, **sections)
            index = KnowledgeIndex(load_config(config), embedder=real_embedder)
            Indexer(index).run()
            index.close()
            with oauth_server(config, url) as started:
                yield Deployment(url=url, idp=idp, cases=cases, process=started.process, log=started.log)
        finally:
            for case in cases.values():
                case.stop()
                for name in case.env:
                    os.environ.pop(name, None)
            idp.stop()


async def _found(connected: ClientSession, source: str, mode: str = "hybrid") -> set[str]:
    result = await connected.call_tool("search", {"query": QUERY, "mode": mode, "sources": [source], "limit": 10})
    assert not result.is_error, result.content
    return {hit_doc_id(h) for h in result.structured_content["hits"]}


async def _refused(call: Any) -> bool:
    """True when the call is refused (a tool error or a protocol error)."""
    try:
        result = await call
    except MCPError:
        return True
    return bool(getattr(result, "is_error", False))


@pytest.mark.parametrize("case_name", list(CASES))
def test_each_user_sees_only_what_their_group_may_open(deployment: Deployment, case_name: str) -> None:
    case = deployment.cases[case_name]

    async def scenario() -> None:
        for user, group in GROUP_OF.items():
            other = FINANCE if group == HR else HR
            mine, theirs = case.doc_id(group), case.doc_id(other)
            async with deployment.session_of(user) as connected:
                for mode in ("keyword", "hybrid"):
                    found = await _found(connected, case.name, mode)
                    assert mine in found and theirs not in found, (user, mode, found)
                # By uri (fetch, with the doc id and the resource uri), resources/read, prompt.
                their_uri = document_uri(case.name, case.documents[other])
                for reference in (theirs, their_uri):
                    assert await _refused(connected.call_tool("fetch", {"uri": reference})), (user, reference)
                assert not await _refused(connected.call_tool("fetch", {"uri": mine}))
                assert await _refused(connected.read_resource(their_uri)), user
                assert (await connected.read_resource(document_uri(case.name, case.documents[group]))).contents
                assert await _refused(connected.get_prompt("summarise_document", {"uri": their_uri})), user
                assert not await _refused(connected.get_prompt("summarise_document", {"uri": mine}))
                # Completions and the resource listing never offer it.
                keys = await connected.complete(
                    ResourceTemplateReference(uri=DOCUMENT_TEMPLATE), {"name": "key", "value": ""}, context_arguments={"source": case.name}
                )
                assert case.documents[group] in keys.completion.values and case.documents[other] not in keys.completion.values
                uris = await connected.complete(PromptReference(name="summarise_document"), {"name": "uri", "value": "orgkb://"})
                assert their_uri not in uris.completion.values, user
                listed = {str(r.uri) for r in await all_resources(connected)}
                assert their_uri not in listed and document_uri(case.name, case.documents[group]) in listed, user

    anyio.run(scenario)


@pytest.mark.parametrize("case_name", list(CASES))
def test_a_permission_change_at_the_source_moves_the_document_without_embedding(deployment: Deployment, case_name: str) -> None:
    case = deployment.cases[case_name]
    moved = case.doc_id(HR)

    async def scenario() -> None:
        async with deployment.session_of(ALICE) as alice, deployment.session_of(BOB) as bob:
            assert moved in await _found(alice, case.name) and moved not in await _found(bob, case.name)
            case.hand_hr_document_to_finance()
            synced = await bob.call_tool("reindex", {"sources": [case.name]})
            assert not synced.is_error, synced.content
            summary = synced.structured_content["sources"][0]
            assert summary["chunks_embedded"] == 0 and summary["error"] is None, summary
            assert moved in await _found(bob, case.name) and moved not in await _found(alice, case.name)
            assert await _refused(alice.call_tool("fetch", {"uri": moved}))

    anyio.run(scenario)


def test_free_sql_over_a_row_level_table_is_refused_over_http(deployment: Deployment) -> None:
    async def scenario() -> None:
        async with deployment.session_of(ALICE) as alice:
            refused = await alice.call_tool("sql_query", {"source": "notes", "sql": "SELECT body FROM notes"})
            assert refused.is_error
            said = " ".join(getattr(c, "text", "") for c in refused.content)
            assert "row-level permissions" in said and "Finance note" not in said, said

    anyio.run(scenario)
