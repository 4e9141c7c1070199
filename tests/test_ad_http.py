"""The whole chain over Streamable HTTP: a real OpenID Connect provider's tokens (without groups),
the users' groups from a real Active Directory (Samba AD DC) over LDAP, and an SMB share of that
domain whose NTFS ACLs decide what each person finds and may open (real embedding model)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import write_config
from tests.mcp_helpers import hit_doc_id, oauth_server
from tests.oidc_server import IdpUser, OidcProvider, missing
from tests.samba_server import free_port
from tests.test_mcp_http import session

PASSWORD_ENV = "ORGKB_TEST_AD_HTTP_PASSWORD"
FILES = {
    "salaries.md": ("# Salary bands\n\nThe salary bands for engineers are reviewed every April by HR.\n", "ORGKB\\hr:ALLOWED/0x0/READ"),
    "ledger.md": ("# Quarterly ledger\n\nThe finance ledger closes on the fifth working day of each quarter.\n", "ORGKB\\finance:ALLOWED/0x0/READ"),
    "canteen.md": ("# Canteen\n\nThe canteen serves lunch from noon to two.\n", "Everyone:ALLOWED/0x0/READ"),
}


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-ad-http"), {"alice": IdpUser([]), "bob": IdpUser([])}).start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def server(samba_domain: Any, idp: OidcProvider, tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Iterator[str]:
    folder = "ad-http"
    for name, (text, ace) in FILES.items():
        samba_domain.write(f"{folder}/{name}", text)
        samba_domain.set_acl(f"{folder}/{name}", ace)
    root = tmp_path_factory.mktemp("ad-http")
    url = f"http://127.0.0.1:{free_port(0)}/mcp"
    ldap = {"url": samba_domain.ldap_url, "bind_dn": samba_domain.admin, "password_env": PASSWORD_ENV, "base_dn": samba_domain.base_dn}
    source = {
        "name": "drive", "type": "smb", "server": "127.0.0.1", "share": "docs", "path": folder,
        "username": "Administrator", "domain": "ORGKB", "password_env": PASSWORD_ENV,
    }
    config = write_config(
        root / "orgkb.toml",
        [source],
        identity={"directory": "ldap", "ldap": ldap},
        # The provider always sends "groups"; reading another claim leaves the groups to the directory.
        **{"server.auth": {"issuer": idp.issuer, "audience": url, "user_claim": "preferred_username", "groups_claim": "ad_groups"}},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, samba_domain.admin_password)
        index = KnowledgeIndex(load_config(config), embedder=real_embedder)
        summary = Indexer(index).run()
        index.close()
    assert summary.total("added") == 3 and summary.sources[0].error is None, summary
    with oauth_server(config, url, **{PASSWORD_ENV: samba_domain.admin_password}):
        yield url


def test_each_person_finds_and_opens_only_what_the_share_lets_them(server: str, idp: OidcProvider) -> None:
    # (their own document, the query that finds it); alice is in hr through hr-leads.
    expected = {"alice": ("drive:salaries.md", "salary bands review"), "bob": ("drive:ledger.md", "quarterly finance ledger")}
    queries = ["salary bands review", "quarterly finance ledger", "canteen lunch"]

    async def scenario() -> None:
        for user, (own, own_query) in expected.items():
            other = next(d for d, _ in expected.values() if d != own)
            async with session(server, idp.token(user, server)) as connected:
                for query in queries:
                    for mode in ("hybrid", "keyword"):
                        result = await connected.call_tool("search", {"query": query, "mode": mode, "limit": 10})
                        found = {hit_doc_id(h) for h in result.structured_content["hits"]}
                        assert other not in found, (user, query, mode, found)
                        if query == own_query:
                            assert own in found, (user, mode, found)
                        if query == "canteen lunch":
                            assert "drive:canteen.md" in found, (user, mode, found)
                assert not (await connected.call_tool("fetch", {"uri": own})).is_error
                assert (await connected.call_tool("fetch", {"uri": other})).is_error, user

    anyio.run(scenario)
