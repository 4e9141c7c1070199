"""What every wiki connector shares: connection settings, login sessions, rendered pages, URLs.

A wiki connector talks to its server through `HttpClient` (retries, typed auth errors), logs in
through a `WikiSession` (once, lazily, and again when the wiki says the session expired) and
turns the wiki's own rendering of a page (HTML) into sections with the anchors the wiki gives
its headings, so a hit cites ``Page#Section`` exactly as the wiki links it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator

from orgkb.connectors.base import ConnectorError, Section, SourceConfig
from orgkb.connectors.http import HttpClient, secret_from_env

T = TypeVar("T")

# Characters a URI fragment may hold as they are (RFC 3986); anything else is percent-encoded,
# except non-ASCII letters, which browsers show and accept (IRI), so citations stay readable.
_FRAGMENT_SAFE = "!$&'()*+,;=:@/?-._~%"


class WikiConfig(SourceConfig):
    """Connection settings every wiki source has."""

    url: str = Field(description="The wiki's base URL; the connector finds its API itself.")
    username: str | None = Field(default=None, description="Account to log in as (a bot password's name for MediaWiki).")
    password_env: str | None = Field(default=None, description="Environment variable holding the password.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for one HTTP response.")
    verify_tls: bool = Field(default=True, description="Check the server's TLS certificate.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url must be an http:// or https:// address, got {value!r}")
        return value.strip()

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> WikiConfig:
        if self.username and not self.password_env:
            raise ValueError("username needs password_env (the environment variable holding the password)")
        if self.password_env and not self.username:
            raise ValueError("password_env needs username")
        return self


def wiki_http(config: WikiConfig, base_url: str) -> HttpClient:
    """The HTTP client for one wiki source (cookies persist across calls: wiki sessions use them)."""
    return HttpClient(config.name, base_url, timeout=config.timeout, verify=config.verify_tls)


def wiki_password(config: WikiConfig) -> str | None:
    """The configured password, read from its environment variable (None without a username)."""
    if not config.username:
        return None
    return secret_from_env(config.password_env, config.name, "password")


def site_root(url: str, entry_points: Iterable[str]) -> str:
    """``url`` without query, fragment, a trailing slash or a known entry-point script.

    ``https://wiki.example/w/index.php?title=X`` with entry point ``index.php`` gives
    ``https://wiki.example/w``, so users may paste any page address of the wiki.
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    for entry in entry_points:
        if path.endswith("/" + entry):
            path = path[: -len(entry) - 1]
            break
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def fragment(anchor: str) -> str:
    """``anchor`` made safe to put after ``#`` in a URI (spaces and reserved ASCII encoded)."""
    return "".join(c if ord(c) > 127 or c.isalnum() or c in _FRAGMENT_SAFE else quote(c, safe="") for c in anchor)


def rendered_sections(html: str, furniture: Iterable[str] = ()) -> list[Section]:
    """Sections of a page as the wiki rendered it, with its heading anchors.

    ``furniture`` lists CSS selectors of elements that are not content (edit links, a table of
    contents, footnote markers); they are removed first. Line numbers of rendered HTML mean
    nothing to a reader of the page, so sections carry none.
    """
    # Imported here: bs4 costs start-up time that only syncing a wiki needs to pay.
    from bs4 import BeautifulSoup

    from orgkb.connectors.formats import html as html_format

    soup = BeautifulSoup(html, "html.parser")
    for selector in furniture:
        for element in soup.select(selector):
            element.decompose()
    parsed = html_format.parse(str(soup), "page.html")
    return [
        Section(heading_path=s.heading_path, text=s.text, anchor=fragment(s.anchor) if s.anchor else None)
        for s in parsed.sections
    ]


class SessionExpired(ConnectorError):
    """The wiki no longer accepts the session cookie; logging in again may fix it."""


class WikiSession:
    """Logs in before the first call, and once more when a call reports `SessionExpired`.

    ``login`` does nothing for anonymous access; it raises `CredentialsError` when the wiki
    rejects the credentials, which ends the sync (a second failure is not retried).
    """

    def __init__(self, login: Callable[[], None]) -> None:
        self._login = login
        self._logged_in = False

    def ensure(self) -> None:
        """Log in unless already logged in."""
        if not self._logged_in:
            self._login()
            self._logged_in = True

    def call(self, request: Callable[[], T]) -> T:
        """Run ``request`` logged in; on an expired session log in again and retry it once."""
        self.ensure()
        try:
            return request()
        except SessionExpired:
            self._logged_in = False
            self.ensure()
            return request()
