"""OAuth 2.1 over Streamable HTTP with a real OpenID Connect provider (npm `oidc-provider`):
per-user tokens, the spec's 401 challenges, protected resource metadata."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.mcp_helpers import hit_doc_id, oauth_server
from tests.conftest import write_config
from tests.oidc_server import IdpUser, OidcProvider, missing
from tests.samba_server import free_port
from tests.test_mcp_http import INIT, MCP_HEADERS, session


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    users = {"alice": IdpUser(["orgkbtokfin"]), "bob": IdpUser(["engineering"]), "shortlived": IdpUser(["orgkbtokfin"], ttl=1)}
    provider = OidcProvider(tmp_path_factory.mktemp("oidc"), users).start()
    yield provider
    provider.stop()


def _finance_group() -> None:
    if os.geteuid() != 0:
        pytest.skip("creating a system group needs root")
    if subprocess.run(["getent", "group", "orgkbtokfin"], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", "--system", "orgkbtokfin"], check=True, capture_output=True)


@dataclass
class OAuthServer:
    url: str
    issuer: str
    process: subprocess.Popen[str]
    docs: Path
    log: list[str] = field(default_factory=list)

    @property
    def metadata_url(self) -> str:
        return self.url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")


@pytest.fixture(scope="module")
def server(idp: OidcProvider, tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Iterator[OAuthServer]:
    root = tmp_path_factory.mktemp("oauth-http")
    docs = root / "handbook"
    docs.mkdir()
    (docs / "expenses.md").write_text("# Expense policy\n\nExpenses over 40 EUR need your department head's approval.\n")
    (docs / "forecast.md").write_text("# Forecast\n\nThe finance forecast approval threshold is 90,000 EUR.\n")
    # Readable by the finance group only; the "finance" group of the tokens is a real group here.
    _finance_group()
    shutil.chown(docs / "forecast.md", group="orgkbtokfin")
    (docs / "forecast.md").chmod(0o640)
    port = free_port(0)
    url = f"http://127.0.0.1:{port}/mcp"
    config = write_config(
        root / "orgkb.toml",
        [{"name": "handbook", "type": "files", "paths": [str(docs)]}],
        **{"server.auth": {"issuer": idp.issuer, "audience": url, "user_claim": "preferred_username", "leeway_seconds": 0}},
    )
    index = KnowledgeIndex(load_config(config), embedder=real_embedder)
    Indexer(index).run()
    index.close()
    with oauth_server(config, url) as started:
        assert "OAuth" in started.banner, started.banner
        yield OAuthServer(url=url, issuer=idp.issuer, process=started.process, docs=docs, log=started.log)
    subprocess.run(["groupdel", "orgkbtokfin"], capture_output=True)


def _refused(server: OAuthServer, token: str | None) -> httpx.Response:
    headers = {**MCP_HEADERS, **({"authorization": f"Bearer {token}"} if token is not None else {})}
    return httpx.post(server.url, json=INIT, headers=headers, timeout=30)


def test_protected_resource_metadata_names_the_provider(server: OAuthServer) -> None:
    for url in (server.metadata_url, server.url.replace("/mcp", "/.well-known/oauth-protected-resource")):
        metadata = httpx.get(url, timeout=30)
        assert metadata.status_code == 200, url
        document = metadata.json()
        assert document["resource"] == server.url
        assert document["authorization_servers"] == [server.issuer]
        assert document["bearer_methods_supported"] == ["header"]


def test_a_request_without_a_token_is_told_where_to_get_one(server: OAuthServer) -> None:
    refused = _refused(server, None)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == f'Bearer resource_metadata="{server.metadata_url}"'


def _resigned(token: str, key: rsa.RSAPrivateKey, **headers: str) -> str:
    """The same claims as ``token``, signed by ``key`` instead of the provider."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def test_bad_tokens_get_the_spec_challenge(server: OAuthServer, idp: OidcProvider) -> None:
    good = idp.token("alice", server.url)
    kid = jwt.get_unverified_header(good)["kid"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    short = idp.token("shortlived", server.url)
    time.sleep(2.2)  # its lifetime is one second; leeway is 0 in this config
    cases = {
        "wrong audience": (idp.token("alice", "http://127.0.0.1:9/other-mcp"), "another resource"),
        "expired": (short, "expired"),
        "another key, same key id": (_resigned(good, stranger, kid=kid), "signature"),
        "another key, unknown key id": (_resigned(good, stranger, kid="forged"), "unknown key"),
        "not a JWT": ("not-a-token", "malformed"),
        "unsigned": (jwt.encode(jwt.decode(good, options={"verify_signature": False}), None, algorithm="none"), "algorithm"),
    }
    for case, (token, reason) in cases.items():
        refused = _refused(server, token)
        assert refused.status_code == 401, case
        challenge = refused.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="invalid_token", error_description="'), case
        assert reason in challenge and challenge.endswith(f'resource_metadata="{server.metadata_url}"'), (case, challenge)
    assert _refused(server, good).status_code == 200  # the same user's real token still works


def test_each_user_gets_a_session_of_their_own(server: OAuthServer, idp: OidcProvider) -> None:
    import anyio

    async def scenario() -> None:
        for user, sees_forecast in (("alice", True), ("bob", False)):
            async with session(server.url, idp.token(user, server.url)) as connected:
                sources = (await connected.call_tool("list_sources", {})).structured_content["sources"]
                assert [s["name"] for s in sources] == ["handbook"], user
                for mode in ("keyword", "semantic", "hybrid"):
                    result = await connected.call_tool("search", {"query": "finance forecast approval threshold", "mode": mode})
                    found = {hit_doc_id(h) for h in result.structured_content["hits"]}
                    if not sees_forecast:
                        assert "handbook:forecast.md" not in found, (user, mode)
                    if mode != "semantic":  # on 3 tiny files a semantic answer may fall under the relevance floor
                        assert "handbook:expenses.md" in found, (user, mode)
                        assert ("handbook:forecast.md" in found) == sees_forecast, (user, mode)
                fetched = await connected.call_tool("fetch", {"uri": "handbook:forecast.md"})
                assert fetched.is_error != sees_forecast, user

    anyio.run(scenario)
    # A session belongs to the user whose token opened it.
    alice, bob = idp.token("alice", server.url), idp.token("bob", server.url)
    opened = httpx.post(server.url, json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {alice}"}, timeout=30)
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    session_id = opened.headers["mcp-session-id"]
    stolen = httpx.post(server.url, json=ping, headers={**MCP_HEADERS, "authorization": f"Bearer {bob}", "mcp-session-id": session_id}, timeout=30)
    assert stolen.status_code == 404
