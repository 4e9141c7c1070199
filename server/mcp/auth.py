"""OAuth 2.1 resource server for Streamable HTTP, per the MCP authorization spec.

Access tokens are JWTs issued by the organisation's OpenID Connect provider (`[server.auth]`).
A token is accepted when its signature verifies against the provider's published keys (JWKS,
found through its discovery document, cached, fetched again for an unknown key id), with an
allowed algorithm, the configured issuer, this server as audience, and a valid ``exp``/``nbf``.
Its claims name the user and groups, which become the caller's `Principal`.

When a token carries no groups claim and ``[identity] lookup_when_token_has_no_groups`` is on,
the user's groups come from the `[identity]` directory (LDAP / Active Directory, or the system's
user database; the LDAP directory caches answers for ``cache_seconds``). A user the directory does
not know has no groups (sees what ``user:<name>`` and ``*`` may). A directory that cannot answer
fails the request with 503 and one line (the reason goes to the server log), never a caller with
silently missing groups: an empty result would read as "no such document" to a person who
should see it.

Clients discover the provider from this server's protected resource metadata (RFC 9728), which
every 401 points to in ``WWW-Authenticate``. The SDK supplies the metadata model, its route and
the `TokenVerifier` protocol; validation is PyJWT's.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlparse

import anyio
import httpx
import jwt
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from orgkb.server.app.access import Access
from orgkb.server.app.principal import Principal
from orgkb.server.config import AuthConfig
from orgkb.server.identity.directory import Directory, DirectoryError, UnknownUser

log = logging.getLogger(__name__)

# An unknown key id triggers a fetch at most this often, so forged tokens cannot make the
# server hammer the provider.
MIN_REFETCH_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 10.0


# Issuer and resource are compared as exact strings (RFC 8414, RFC 9728): no added trailing slash.
_URL = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))


class InvalidToken(Exception):
    """A bearer token that is not acceptable; the message is safe to show the client."""


class ProviderKeys:
    """The provider's signing keys, fetched from its JWKS and cached."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = anyio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key with id ``kid`` (the only key, when a token names none)."""
        stale = time.monotonic() - self._fetched_at > self.config.jwks_refresh_seconds
        if stale or self._find(kid) is None:
            await self._refresh(force=stale)
        found = self._find(kid)
        if found is None:
            raise InvalidToken("token signed with an unknown key")
        return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, force: bool) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._fetched_at < MIN_REFETCH_SECONDS:
                return
            try:
                async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as http:
                    jwks_url = self.config.jwks_url or await self._discover(http)
                    response = await http.get(jwks_url)
                    response.raise_for_status()
                    keys = jwt.PyJWKSet.from_dict(response.json()).keys
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                # Keep the keys we had: a provider outage should not log everybody out at once.
                log.warning("cannot fetch the identity provider's signing keys: %s", exc)
                self._fetched_at = time.monotonic()
                return
            self._keys = {k.key_id or f"#{i}": k for i, k in enumerate(keys)}
            self._fetched_at = time.monotonic()

    async def _discover(self, http: httpx.AsyncClient) -> str:
        assert self.config.issuer is not None  # checked by AuthConfig.enabled before use
        url = self.config.discovery_url or self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = await http.get(url)
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != self.config.issuer:
            raise ValueError(f"discovery document at {url} names issuer {document.get('issuer')!r}, not {self.config.issuer!r}")
        return str(document["jwks_uri"])


class OidcTokenVerifier:
    """Checks JWT access tokens from the configured provider (the SDK's `TokenVerifier` protocol)."""

    def __init__(self, config: AuthConfig, keys: ProviderKeys | None = None) -> None:
        if not config.enabled:
            raise ValueError("server.auth.issuer is not set")
        self.config = config
        self.keys = keys or ProviderKeys(config)

    async def claims(self, token: str) -> dict[str, Any]:
        """The token's verified claims; `InvalidToken` says what is wrong."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") not in self.config.algorithms:
            raise InvalidToken(f"token algorithm {header.get('alg')!r} is not accepted")
        key = await self.keys.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self.config.algorithms,
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token was issued for another resource") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token was issued by another issuer") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token is not valid yet") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("token signature does not verify") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid token: {exc}") from None
        scopes = str(claims.get("scope", "")).split()
        missing = [s for s in self.config.required_scopes if s not in scopes]
        if missing:
            raise InvalidToken(f"token lacks scope(s): {', '.join(missing)}")
        return claims

    def principal(self, claims: dict[str, Any], groups: frozenset[str] | None = None) -> Principal:
        """The caller the claims describe: user and groups from the configured claims (or
        ``groups``, looked up elsewhere, when given)."""
        user = claims.get(self.config.user_claim)
        if not isinstance(user, str) or not user:
            raise InvalidToken(f"token has no {self.config.user_claim!r} claim naming the user")
        if groups is not None:
            return Principal(user=user, groups=groups, admin=not groups.isdisjoint(self.config.admin_groups))
        raw_groups = claims.get(self.config.groups_claim, [])
        groups = [raw_groups] if isinstance(raw_groups, str) else raw_groups
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise InvalidToken(f"token's {self.config.groups_claim!r} claim is not a list of names")
        admin = not set(groups).isdisjoint(self.config.admin_groups)
        return Principal(user=user, groups=frozenset(groups), admin=admin)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's `TokenVerifier` entry point: the token's details, or None when invalid."""
        try:
            claims = await self.claims(token)
        except InvalidToken:
            return None
        return access_token(claims)


def access_token(claims: dict[str, Any]) -> AccessToken:
    """What the SDK keeps of a verified token: it binds each MCP session to (client, issuer, subject)."""
    aud = claims.get("aud")
    return AccessToken(
        token="",  # the SDK never needs the raw token again; keeping it out of memory dumps and logs
        client_id=str(claims.get("client_id") or claims.get("azp") or claims.get("sub", "")),
        scopes=str(claims.get("scope", "")).split(),
        expires_at=int(claims["exp"]),
        resource=aud if isinstance(aud, str) else None,
        subject=str(claims.get("sub", "")) or None,
        claims={"iss": claims.get("iss")},
    )


class ProtectedResource:
    """This server as an OAuth protected resource: its metadata document and its 401 challenges."""

    def __init__(self, config: AuthConfig, name: str) -> None:
        assert config.issuer is not None and config.audience is not None  # AuthConfig validates both together
        self.metadata_url = str(build_resource_metadata_url(_URL.validate_python(config.audience)))
        routes = create_protected_resource_routes(
            resource_url=_URL.validate_python(config.audience),
            authorization_servers=[_URL.validate_python(config.issuer)],
            scopes_supported=config.required_scopes or None,
            resource_name=name,
        )
        # Clients that do not insert the resource path (RFC 9728 §3.1) ask at the root: same document.
        path = urlparse(self.metadata_url).path
        root = "/.well-known/oauth-protected-resource"
        self.paths = {path, root}
        if path != root:
            routes.append(Route(root, endpoint=routes[0].endpoint, methods=["GET", "OPTIONS"]))
        self.router = Router(routes=routes)

    async def serve_metadata(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request for one of `paths` with the metadata document."""
        await self.router(scope, receive, send)

    def challenge(self, error: str | None = None) -> bytes:
        """The ``WWW-Authenticate`` value of a 401: where the metadata is, and what was wrong."""
        parts = [f'resource_metadata="{self.metadata_url}"']
        if error:
            parts = ['error="invalid_token"', f'error_description="{error}"', *parts]
        return ("Bearer " + ", ".join(parts)).encode()


class DirectoryUnavailable(Exception):
    """A token's user has no groups claim and the directory that would name them cannot answer."""


class OAuthGate:
    """What the HTTP request guard asks about bearer tokens that are not static tokens."""

    def __init__(
        self, config: AuthConfig, name: str, verifier: OidcTokenVerifier | None = None, directory: Directory | None = None
    ) -> None:
        self.verifier = verifier or OidcTokenVerifier(config)
        self.resource = ProtectedResource(config, name)
        self.directory = directory  # asked for the groups of tokens that carry none

    async def _looked_up_groups(self, claims: dict[str, Any]) -> frozenset[str] | None:
        """The user's groups from the directory when the token has no groups claim; None when
        the token's own claim (or nothing) decides. `DirectoryUnavailable` when it cannot answer."""
        user = claims.get(self.verifier.config.user_claim)
        if self.directory is None or self.verifier.config.groups_claim in claims or not isinstance(user, str) or not user:
            return None
        try:
            # LDAP calls block: off the event loop.
            return await anyio.to_thread.run_sync(self.directory.groups_of, user)
        except UnknownUser as exc:
            log.info("token user %r is not in the %s directory: no groups (%s)", user, self.directory.name, exc)
            return frozenset()
        except DirectoryError as exc:
            # The reason (server address, bind account) is for the log, not for every caller.
            log.error("cannot look up the groups of %r: %s", user, exc)
            raise DirectoryUnavailable(
                f"cannot look up your groups: the {self.directory.name} directory does not answer; "
                "try again later (the server log says why)"
            ) from None

    async def authenticate(self, header: str | None) -> tuple[Access | None, AuthenticatedUser | None, str | None]:
        """(access, SDK user, None) for a valid token; (None, None, reason) for an invalid one;
        (None, None, None) when no bearer token was given at all. `DirectoryUnavailable` when
        the token's groups must come from a directory that cannot answer."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, None, None
        try:
            claims = await self.verifier.claims(token.strip())
            principal = self.verifier.principal(claims, await self._looked_up_groups(claims))
        except InvalidToken as exc:
            return None, None, str(exc)
        access = Access(name=f"oidc:{principal.user}", principal=principal)
        return access, AuthenticatedUser(access_token(claims)), None
