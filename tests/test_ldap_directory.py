"""Groups and SID names from a real Active Directory (Samba AD DC, tests/samba_ad.py) over LDAP,
and callers whose token carries no groups getting them from that directory (a real OIDC provider).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from orgkb.server.config import OrgkbConfig
from orgkb.server.config.identity import LdapConfig
from orgkb.server.config.serving import AuthConfig
from orgkb.server.identity.directory import DirectoryError, UnknownUser, open_directory
from orgkb.server.identity.ldap import LdapDirectory
from orgkb.server.mcp.auth import DirectoryUnavailable, OAuthGate
from orgkb.server.mcp.http import RequestGuard
from tests.oidc_server import IdpUser, OidcProvider, missing

AUDIENCE = "http://127.0.0.1:1/mcp"


def _config(domain: Any, **changes: Any) -> LdapConfig:
    values = {
        "url": domain.ldap_url, "bind_dn": domain.admin, "password_env": "ORGKB_TEST_LDAP_PASSWORD", "base_dn": domain.base_dn,
        "timeout_seconds": 5,
    }
    return LdapConfig(**{**values, **changes})


@pytest.fixture
def directory(samba_domain: Any) -> Iterator[LdapDirectory]:
    found = LdapDirectory(_config(samba_domain), password=samba_domain.admin_password)
    yield found
    found.close()


def _sid_of(domain: Any, name: str) -> str:
    """A group's or user's SID as samba-tool reports it (independent of the code under test)."""
    kind = "group" if name in ("hr", "hr-leads", "finance") else "user"
    shown = domain.tool(kind, "show", name, "--attributes=objectSid")
    return next(line.split(": ", 1)[1].strip() for line in shown.splitlines() if line.startswith("objectSid:"))


def test_groups_include_nested_ones(directory: LdapDirectory) -> None:
    alice = directory.groups_of("alice")
    assert {"hr-leads", "hr", "Domain Users"} <= alice  # hr through hr-leads; the primary group too
    assert "finance" not in alice
    bob = directory.groups_of("bob")
    assert "finance" in bob and "hr" not in bob and "hr-leads" not in bob
    assert "hr" in directory.groups_of("carol") and "hr-leads" not in directory.groups_of("carol")


def test_plain_ldap_mode_follows_member_links(samba_domain: Any) -> None:
    plain = LdapDirectory(_config(samba_domain, kind="ldap"), password=samba_domain.admin_password)
    try:
        assert {"hr-leads", "hr"} <= plain.groups_of("alice")
        assert "hr" not in plain.groups_of("bob")
    finally:
        plain.close()


def test_user_names_are_escaped_in_the_filter(directory: LdapDirectory) -> None:
    # A name that would widen the filter unescaped ("*" matches every account) matches nobody.
    with pytest.raises(UnknownUser):
        directory.groups_of("*")
    with pytest.raises(UnknownUser):
        directory.groups_of("alice)(sAMAccountName=*")


def test_sids_resolve_to_principal_names(directory: LdapDirectory, samba_domain: Any) -> None:
    assert directory.name_of_sid(_sid_of(samba_domain, "hr")) == "group:hr"
    assert directory.name_of_sid(_sid_of(samba_domain, "alice")) == "user:alice"
    assert directory.name_of_sid("S-1-5-32-544") == "group:Administrators"  # BUILTIN\Administrators
    assert directory.name_of_sid("S-1-5-21-1-2-3-4242") is None  # no such object


def test_a_wrong_password_is_one_clear_line(samba_domain: Any) -> None:
    wrong = LdapDirectory(_config(samba_domain), password="not-the-password")
    with pytest.raises(DirectoryError) as caught:
        wrong.groups_of("alice")
    message = str(caught.value)
    assert "\n" not in message and "rejected the bind" in message and "ORGKB_TEST_LDAP_PASSWORD" in message


def test_a_directory_that_is_down_is_one_clear_line(samba_domain: Any) -> None:
    down = LdapDirectory(_config(samba_domain, url="ldap://127.0.0.1:1"), password="x")
    with pytest.raises(DirectoryError) as caught:
        down.groups_of("alice")
    assert "\n" not in str(caught.value) and "cannot reach the directory at ldap://127.0.0.1:1" in str(caught.value)


def test_config_names_the_ldap_directory(samba_domain: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"needs an \[identity.ldap\] table"):
        OrgkbConfig.model_validate({"identity": {"directory": "ldap"}})
    with pytest.raises(ValueError, match="must contain"):
        _config(samba_domain, user_filter="(uid=alice)")
    config = OrgkbConfig.model_validate({"identity": {"directory": "ldap", "ldap": _config(samba_domain).model_dump()}})
    opened = open_directory(config.identity)
    assert isinstance(opened, LdapDirectory)
    with pytest.raises(DirectoryError, match="ORGKB_TEST_LDAP_PASSWORD .* is not set"):
        opened.groups_of("alice")  # the password comes from the environment only
    monkeypatch.setenv("ORGKB_TEST_LDAP_PASSWORD", samba_domain.admin_password)
    fresh = open_directory(config.identity)
    assert fresh is not None and "hr" in fresh.groups_of("alice")


# --- callers over HTTP whose token has no groups claim --------------------------------------


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-ad"), {"alice": IdpUser([]), "bob": IdpUser([]), "mallory": IdpUser([])}).start()
    yield provider
    provider.stop()


def _gate(idp: OidcProvider, directory: Any) -> OAuthGate:
    # The provider always sends a "groups" claim; naming another claim makes the tokens carry none.
    auth = AuthConfig(issuer=idp.issuer, audience=AUDIENCE, user_claim="preferred_username", groups_claim="ad_groups")
    return OAuthGate(auth, "orgkb-test", directory=directory)


def test_a_token_without_groups_gets_them_from_the_directory(idp: OidcProvider, directory: LdapDirectory) -> None:
    gate = _gate(idp, directory)

    async def groups_of(user: str) -> frozenset[str]:
        access, _, problem = await gate.authenticate("Bearer " + idp.token(user, AUDIENCE))
        assert problem is None and access is not None and access.principal is not None
        return access.principal.groups

    assert {"hr", "hr-leads"} <= anyio.run(groups_of, "alice")
    assert "hr" not in anyio.run(groups_of, "bob")
    assert anyio.run(groups_of, "mallory") == frozenset()  # known to the provider, not to the domain: no groups


def test_a_directory_outage_fails_the_request_with_503(idp: OidcProvider, samba_domain: Any, caplog: pytest.LogCaptureFixture) -> None:
    broken = LdapDirectory(_config(samba_domain), password="not-the-password")
    gate = _gate(idp, broken)
    token = idp.token("alice", AUDIENCE)
    with pytest.raises(DirectoryUnavailable):
        anyio.run(gate.authenticate, "Bearer " + token)

    async def reached(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the MCP app must not run without the caller's groups")

    guard = RequestGuard(reached, [], ["http://127.0.0.1"], None, oauth=gate)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://127.0.0.1") as client:
            return await client.post("/mcp", headers={"Authorization": f"Bearer {token}"}, json={})

    response = anyio.run(post)
    assert response.status_code == 503
    assert response.text == "cannot look up your groups: the ldap directory does not answer; try again later (the server log says why)\n"
    assert "rejected the bind" in caplog.text  # the reason, for the administrator
    assert os.environ.get("ORGKB_TEST_LDAP_PASSWORD") is None
