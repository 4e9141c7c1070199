"""The `[identity]` section: where users' groups are looked up when a token does not carry them.

``directory = "ldap"`` names an LDAP or Active Directory server, set up in ``[identity.ldap]``;
its bind password comes from the environment variable ``password_env`` names, never the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from orgkb.server.config.sections import Section


class LdapConfig(Section):
    """How to reach and search an LDAP / Active Directory server."""

    url: str = Field(pattern=r"^ldaps?://", description='"ldap://dc.example.org" or "ldaps://dc.example.org:636".')
    bind_dn: str = Field(
        min_length=1, description='The account that searches: a DN, or for AD also "DOMAIN\\\\user" or "user@domain".'
    )
    password_env: str = Field(min_length=1, description="Environment variable holding the bind password.")
    base_dn: str = Field(min_length=1, description='Where users and groups are searched, e.g. "DC=example,DC=org".')
    kind: Literal["ad", "ldap"] = Field(
        default="ad",
        description='"ad": nested groups through the in-chain matching rule, plus the primary group; "ldap": the '
        "groups whose `member` names the user (nested groups followed), for OpenLDAP and others.",
    )
    user_filter: str = Field(
        default="(sAMAccountName={user})",
        description="Finds a user's entry; {user} is replaced by the name, escaped. OpenLDAP: (uid={user}).",
    )
    group_name_attribute: str = Field(default="sAMAccountName", description='The attribute naming a group: AD "sAMAccountName", LDAP "cn".')
    user_name_attribute: str = Field(default="sAMAccountName", description='The attribute naming a user (for SIDs resolved to users).')
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Seconds to wait for the server to connect or answer.")
    start_tls: bool = Field(default=False, description="Upgrade an ldap:// connection with StartTLS before binding.")
    ca_file: str | None = Field(default=None, description="CA certificates (PEM) that sign the server's certificate; default: the system's.")
    verify_tls: bool = Field(default=True, description="Check the server's certificate (turn off only for a test domain).")
    cache_seconds: float = Field(default=300.0, ge=0, description="How long a user's groups and a SID's name are remembered.")

    @model_validator(mode="after")
    def _user_placeholder(self) -> LdapConfig:
        if "{user}" not in self.user_filter:
            raise ValueError("user_filter must contain {user}")
        return self


class IdentityConfig(Section):
    """Which directory answers "which groups is this user in?"."""

    directory: Literal["none", "system", "ldap"] = Field(
        default="none",
        description='"none": groups come only from tokens and config; "system": this machine\'s user database; '
        '"ldap": the LDAP / Active Directory server in [identity.ldap].',
    )
    lookup_when_token_has_no_groups: bool = Field(
        default=True, description="Look a token's user up in the directory when its groups claim is absent."
    )
    ldap: LdapConfig | None = Field(default=None, description="The LDAP / Active Directory server (directory = \"ldap\").")

    @model_validator(mode="after")
    def _ldap_configured(self) -> IdentityConfig:
        if self.directory == "ldap" and self.ldap is None:
            raise ValueError('directory = "ldap" needs an [identity.ldap] table (url, bind_dn, password_env, base_dn)')
        return self
