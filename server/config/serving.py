"""The config sections for serving: live sync, HTTP, tokens, OpenID Connect, the stdio principal."""

from __future__ import annotations

from orgkb.server.config.sections import Section
from pydantic import Field, field_validator, model_validator

LOOPBACK_ORIGINS = [
    "http://127.0.0.1", "http://127.0.0.1:*", "http://localhost", "http://localhost:*", "http://[::1]", "http://[::1]:*",
]


class LiveSyncConfig(Section):
    """Keeping the index current while `orgkb serve` runs."""

    enabled: bool = Field(default=True, description="Sync in the background while serving (watch folders, poll remotes).")
    watch: bool = Field(default=True, description="Watch local folders (files sources, local wiki exports) for changes.")
    catch_up: bool = Field(default=True, description="Sync every source once in the background at start.")
    debounce_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Quiet time after the last change in a source before it is re-indexed."
    )
    max_delay_seconds: float = Field(
        default=10.0, gt=0, le=600, description="A source that keeps changing is still re-indexed at least this often."
    )
    retry_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="Wait before retrying a sync that failed or found the index locked."
    )


class HttpTokenConfig(Section):
    """A bearer token for the HTTP transport, optionally limited to some sources."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="A label for logs and sessions, never the token.")
    token_env: str = Field(description="Environment variable holding the token (never put a token in the config).")
    sources: list[str] | None = Field(default=None, description="Sources this token may see; all when absent.")
    user: str | None = Field(
        default=None, min_length=1, description="The person or service this token stands for; per-document permissions apply when set."
    )
    groups: list[str] = Field(default_factory=list, description="The groups of `user` (needs `user`).")
    admin: bool = Field(default=False, description="Sees every document of its sources, whatever its permissions (needs `user`).")

    @model_validator(mode="after")
    def _identity_needs_user(self) -> HttpTokenConfig:
        if self.user is None and (self.groups or self.admin):
            raise ValueError(f"server.http.tokens ({self.name}): `groups` and `admin` need a `user`")
        return self


class HttpConfig(Section):
    """The Streamable HTTP transport (`orgkb serve --transport http`)."""

    host: str = Field(default="127.0.0.1", description="Address to bind; anything but loopback requires a token.")
    port: int = Field(default=8765, ge=0, le=65535, description="0 picks a free port (printed at start).")
    path: str = Field(default="/mcp", pattern=r"^/[A-Za-z0-9/_.-]*$")
    token_env: str = Field(
        default="ORGKB_HTTP_TOKEN", description="Environment variable holding the full-access bearer token."
    )
    tokens: list[HttpTokenConfig] = Field(default_factory=list, description="More tokens, each limited to some sources.")
    allowed_origins: list[str] = Field(
        default_factory=lambda: list(LOOPBACK_ORIGINS),
        description='Browser origins allowed to call the server ("http://host:*" allows any port).',
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description='Host headers accepted ("name:*" allows any port); default: loopback names when bound to loopback.',
    )

    @model_validator(mode="after")
    def _unique_token_names(self) -> HttpConfig:
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("server.http.tokens names must be unique")
        return self


# Symmetric (HS*) algorithms would let anyone holding the shared secret mint tokens, and they
# cannot come from a provider's public JWKS; "none" is no signature at all.
ASYMMETRIC_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


class AuthConfig(Section):
    """OAuth 2.1 bearer tokens from the organisation's OpenID Connect provider (HTTP transport).

    Off while `issuer` is unset. When on, a request carries a JWT access token issued by
    `issuer` for `audience` (this server's URL, its RFC 8707 resource indicator); the token's
    claims name the user and groups, and per-document permissions follow them.
    """

    issuer: str | None = Field(default=None, description="The provider's issuer URL, exactly as in its tokens' `iss`.")
    audience: str | None = Field(
        default=None, description="This server's public URL (e.g. https://kb.example.org/mcp): tokens' `aud`, and the protected resource."
    )
    discovery_url: str | None = Field(
        default=None, description="The provider's OpenID configuration; default: issuer + /.well-known/openid-configuration."
    )
    jwks_url: str | None = Field(default=None, description="The provider's signing keys; default: `jwks_uri` of the discovery document.")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1, description="Accepted JWS algorithms.")
    user_claim: str = Field(default="sub", min_length=1, description='The claim naming the user ("preferred_username", "email", "upn", ...).')
    groups_claim: str = Field(default="groups", min_length=1, description="The claim listing the user's groups (absent: no groups).")
    admin_groups: list[str] = Field(default_factory=list, description="Members of these groups see every document of their sources.")
    required_scopes: list[str] = Field(default_factory=list, description="Scopes every token must carry.")
    leeway_seconds: int = Field(default=30, ge=0, le=300, description="Clock skew allowed when checking `exp` and `nbf`.")
    jwks_refresh_seconds: int = Field(
        default=300, ge=1, le=86400, description="Keys are fetched again after this long, or for an unknown key id (at most every 10 s)."
    )

    @property
    def enabled(self) -> bool:
        """True when OAuth bearer tokens are accepted."""
        return self.issuer is not None

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        unsupported = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if unsupported:
            raise ValueError(f"unsupported algorithm(s) {', '.join(unsupported)}; use of: {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> AuthConfig:
        if self.issuer is None:
            return self
        if not self.audience:
            raise ValueError("server.auth: `audience` (this server's public URL) is required with `issuer`")
        for key in ("issuer", "audience", "discovery_url", "jwks_url"):
            value = getattr(self, key)
            if value is not None and not value.startswith(("https://", "http://")):
                raise ValueError(f"server.auth.{key}: must be an http(s) URL, got {value!r}")
        return self


class LocalPrincipalConfig(Section):
    """Who the local user (stdio, in-process) is, for per-document permissions."""

    user: str = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)
    admin: bool = False


class ServerConfig(Section):
    """The MCP server's behaviour."""

    read_only: bool = Field(default=False, description="Leave out tools that change the index (reindex).")
    name: str = "orgkb"
    instructions: str | None = Field(default=None, description="Replaces the default server instructions.")
    tool_descriptions: dict[str, str] = Field(
        default_factory=dict, description="Replace a tool's description by tool name, to tune how models use it."
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="Documents per resources/list page.")
    live: LiveSyncConfig = Field(default_factory=LiveSyncConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    principal: LocalPrincipalConfig | None = Field(
        default=None, description="The principal of stdio clients; default: the local user sees everything."
    )

