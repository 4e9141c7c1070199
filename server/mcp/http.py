"""Serving MCP over Streamable HTTP: bearer tokens, source-limited tokens, Origin and Host checks.

By default the server listens on 127.0.0.1 only. Any other address needs at least one token,
or it refuses to start. Once a token exists, every request must carry
``Authorization: Bearer <token>`` (compared in constant time); a request without a valid one
gets a bare 401 before anything else runs. Browsers' ``Origin`` headers must be in
``allowed_origins`` (DNS-rebinding protection); ``Host`` is checked on loopback binds. Tokens
come from environment variables only, and only their names ever appear in logs. An OpenID
Connect token whose groups must come from the `[identity]` directory while it cannot answer
gets 503 with the reason in one line (see `orgkb.server.mcp.auth`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from orgkb.server.app.access import ACCESS_SCOPE_KEY, FULL_ACCESS, Access
from orgkb.server.app.principal import Principal
from orgkb.server.config import HttpConfig, OrgkbConfig
from orgkb.server.errors import ConfigError
from orgkb.server.identity.directory import open_directory
from orgkb.server.mcp.auth import DirectoryUnavailable, OAuthGate

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]


class BearerToken(BaseModel):
    """A token a client may present, and what it may see."""

    model_config = ConfigDict(frozen=True)

    secret: SecretStr
    access: Access


def load_tokens(http: HttpConfig, environ: Mapping[str, str] | None = None) -> list[BearerToken]:
    """The configured tokens, read from their environment variables.

    The main token (``token_env``, default ``ORGKB_HTTP_TOKEN``) sees every source and is
    optional; each ``[[server.http.tokens]]`` entry must have its variable set.
    """
    environ = os.environ if environ is None else environ
    tokens = []
    main = environ.get(http.token_env, "").strip()
    if main:
        tokens.append(BearerToken(secret=SecretStr(main), access=Access(name="default")))
    for entry in http.tokens:
        value = environ.get(entry.token_env, "").strip()
        if not value:
            raise ConfigError(f"server.http.tokens ({entry.name}): environment variable {entry.token_env} is not set")
        sources = frozenset(entry.sources) if entry.sources is not None else None
        principal = Principal(user=entry.user, groups=frozenset(entry.groups), admin=entry.admin) if entry.user else None
        access = Access(name=entry.name, sources=sources, principal=principal)
        tokens.append(BearerToken(secret=SecretStr(value), access=access))
    secrets = [t.secret.get_secret_value() for t in tokens]
    if len(set(secrets)) != len(secrets):
        raise ConfigError("server.http: two tokens have the same value; give each its own")
    return tokens


def is_loopback(host: str) -> bool:
    """True when ``host`` only ever means this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tokens: list[BearerToken], oauth: bool = False) -> None:
    """Refuse to listen beyond this machine without a token (static or OAuth)."""
    if not is_loopback(host) and not tokens and not oauth:
        raise ConfigError(
            f"refusing to listen on {host} without a token: anyone who can reach it could read the index. "
            "Set ORGKB_HTTP_TOKEN (or [server.http] token_env / [[server.http.tokens]]), or bind 127.0.0.1"
        )


def _allowed(value: str, patterns: list[str]) -> bool:
    """``value`` equals a pattern, or a ``base:*`` pattern matches it with any port."""
    return any(value == p or (p.endswith(":*") and value.startswith(p[:-1]) and value[len(p) - 1 :].isdigit()) for p in patterns)


class RequestGuard:
    """ASGI middleware in front of the MCP app: authentication, then Origin and Host checks.

    An authenticated request carries its `Access` in the ASGI scope (read by every handler) and
    a ``user`` the SDK uses to bind each MCP session to the token that opened it.
    """

    def __init__(
        self,
        app: ASGIApp,
        tokens: list[BearerToken],
        allowed_origins: list[str],
        allowed_hosts: list[str] | None,
        oauth: OAuthGate | None = None,
    ) -> None:
        self.app = app
        self.oauth = oauth
        self.tokens = [(hashlib.sha256(t.secret.get_secret_value().encode()).digest(), t.access) for t in tokens]
        self.allowed_origins = allowed_origins
        self.allowed_hosts = allowed_hosts

    def authenticate(self, header: str | None) -> Access | None:
        """The access of a valid ``Authorization`` header; None otherwise. Every token is compared."""
        if not self.tokens and self.oauth is None:
            return FULL_ACCESS
        scheme, _, given = (header or "").partition(" ")
        digest = hashlib.sha256(given.strip().encode()).digest()
        found = None
        for expected, access in self.tokens:
            if hmac.compare_digest(digest, expected) and scheme.lower() == "bearer":
                found = access
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.oauth is not None and scope["path"] in self.oauth.resource.paths:
            await self.oauth.resource.serve_metadata(scope, receive, send)  # public, as RFC 9728 intends
            return
        headers = Headers(scope=scope)
        access = self.authenticate(headers.get("authorization"))
        user, problem = None, None
        if access is None and self.oauth is not None:
            try:
                access, user, problem = await self.oauth.authenticate(headers.get("authorization"))
            except DirectoryUnavailable as exc:
                await _respond(send, 503, f"{exc}\n".encode(), [(b"retry-after", b"30")])
                return
        if access is None:
            challenge = self.oauth.resource.challenge(problem) if self.oauth else b'Bearer realm="orgkb"'
            await _respond(send, 401, b"", [(b"www-authenticate", challenge)])
            return
        origin = headers.get("origin")
        if origin and not _allowed(origin, self.allowed_origins):
            log.warning("refused a request from origin %r (not in server.http.allowed_origins)", origin)
            await _respond(send, 403, b"Origin not allowed\n")
            return
        host = headers.get("host", "")
        if self.allowed_hosts is not None and not _allowed(host, self.allowed_hosts):
            log.warning("refused a request for host %r (not in server.http.allowed_hosts)", host)
            await _respond(send, 421, b"Host not allowed\n")
            return
        scope[ACCESS_SCOPE_KEY] = access
        if user is not None:
            scope["user"] = user
        elif self.tokens:
            from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
            from mcp.server.auth.provider import AccessToken

            scope["user"] = AuthenticatedUser(AccessToken(token=access.name, client_id=access.name, scopes=[]))
        await self.app(scope, receive, send)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    head = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def build_http_app(mcp_server: Any, config: OrgkbConfig, host: str, tokens: list[BearerToken]) -> ASGIApp:
    """The ASGI app: the SDK's Streamable HTTP app behind a `RequestGuard`."""
    from mcp.server.transport_security import TransportSecuritySettings

    http = config.server.http
    # The guard does the Host and Origin checks (with the configured lists) before auth-bound
    # session handling; the SDK's own copy of them is switched off so they are not doubled.
    app = mcp_server.streamable_http_app(
        streamable_http_path=http.path,
        host=host,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    allowed_hosts = http.allowed_hosts
    if allowed_hosts is None and is_loopback(host):
        allowed_hosts = LOOPBACK_HOSTS
    oauth = None
    if config.server.auth.enabled:
        lookup = config.identity.lookup_when_token_has_no_groups
        oauth = OAuthGate(config.server.auth, config.server.name, directory=open_directory(config.identity) if lookup else None)
    return RequestGuard(app, tokens, http.allowed_origins, allowed_hosts, oauth)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port); `ConfigError` when the address is unusable."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run_http(mcp_server: Any, config: OrgkbConfig, host: str, port: int) -> None:
    """Serve until interrupted; the address actually bound is printed on stderr."""
    import uvicorn

    tokens = load_tokens(config.server.http)
    check_bind(host, tokens, oauth=config.server.auth.enabled)
    app = build_http_app(mcp_server, config, host, tokens)
    sock = bind_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    limited = [t.access.name for t in tokens if t.access.limited]
    auth = f"bearer token required ({len(tokens)} token(s){'; limited: ' + ', '.join(limited) if limited else ''})" if tokens else "no token (loopback only)"
    if config.server.auth.enabled:
        auth = f"OAuth bearer token from {config.server.auth.issuer} required" + (f" (or one of {len(tokens)} static token(s))" if tokens else "")
    print(f"orgkb: serving MCP at http://{shown}:{bound_port}{config.server.http.path} — {auth}", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    server.run(sockets=[sock])
