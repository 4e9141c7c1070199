"""HTTP for remote connectors: retries with backoff on transient errors, typed auth errors.

Every wiki and API connector talks through `HttpClient`, so retry policy, timeouts and the
translation of 401/403 into `CredentialsError` live in one place.
"""

from __future__ import annotations

import logging
import os
import random
import time
from typing import TYPE_CHECKING, Any

from orgkb.connectors.base import ConnectorError, CredentialsError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpStatusError(ConnectorError):
    """The server answered with an error status; ``status`` lets a connector treat a 404 as "gone"."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class HttpAuthError(CredentialsError):
    """The server refused access (HTTP 401 or 403); ``response`` is kept for APIs that say why
    in the body (DokuWiki's XML-RPC faults)."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.status = response.status_code
        self.response = response


def secret_from_env(variable: str | None, source: str, what: str = "secret") -> str | None:
    """The value of the env var a config names for a secret; a clear error when it is unset."""
    if not variable:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise CredentialsError(f"{source}: environment variable {variable} (the {what}) is not set")
    return value


class HttpClient:
    """A small wrapper over `httpx.Client` for one remote source."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        verify: bool = True,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        import httpx  # imported on first use: ~0.1 s that orgkb.server start-up should not pay

        self.client = httpx.Client(
            base_url=self.base_url,
            headers={"User-Agent": "orgkb (https://github.com/orgkb)", **(headers or {})},
            auth=auth,
            timeout=timeout,
            follow_redirects=True,
            verify=verify,
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; retry transient failures; raise typed errors for the rest."""
        import httpx

        attempt = 0
        while True:
            try:
                response = self.client.request(method, url, **kwargs)
            except (httpx.ConnectError, httpx.ReadTimeout, httpx.ConnectTimeout, httpx.RemoteProtocolError,
                    httpx.ReadError, httpx.WriteError, httpx.PoolTimeout) as exc:
                if attempt >= self.retries:
                    raise ConnectorError(f"{self.source}: cannot reach {self.base_url}: {_reason(exc)}") from exc
                self._sleep(attempt, None)
                attempt += 1
                continue
            if response.status_code in TRANSIENT_STATUS and attempt < self.retries:
                self._sleep(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            if response.status_code in (401, 403):
                raise HttpAuthError(
                    f"{self.source}: {self.base_url} refused access (HTTP {response.status_code}): "
                    "check the username and the secret's environment variable, and the account's permissions",
                    response,
                )
            if response.status_code >= 400:
                raise HttpStatusError(
                    f"{self.source}: {method} {response.request.url} failed: HTTP {response.status_code} {response.reason_phrase}",
                    response.status_code,
                )
            return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET with retries."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST with retries (use only for idempotent calls such as XML-RPC reads and logins)."""
        return self.request("POST", url, **kwargs)

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send a request and decode its JSON body; an HTML error page becomes a clear error."""
        response = self.request(method, url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(
                f"{self.source}: {response.request.url} did not answer with JSON "
                f"(content type {response.headers.get('content-type', 'unknown')}): is the URL right?"
            ) from None

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt) * (0.5 + random.random())
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 60.0))
        log.info("%s: transient error, retrying in %.1fs", self.source, delay)
        time.sleep(delay)


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("\n", 1)[0]
