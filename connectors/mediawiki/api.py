"""A client for the MediaWiki Action API: finding it, logging in, errors, continuation.

Given any address of a wiki, the API is found at ``api.php`` beside it, at ``/w/api.php``
(Wikipedia's layout), or through the ``EditURI`` link every MediaWiki page carries. Private
wikis are read with a bot password (Special:BotPasswords) through ``action=login``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from orgkb.connectors.base import ConnectorError, CredentialsError
from orgkb.connectors.http import HttpClient, HttpStatusError
from orgkb.connectors.wiki import SessionExpired, WikiConfig, WikiSession, site_root, wiki_http, wiki_password

log = logging.getLogger(__name__)

ENTRY_POINTS = ("api.php", "index.php")


class ApiError(ConnectorError):
    """The API answered with an error object; ``code`` is MediaWiki's error code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class MediaWikiApi:
    """One wiki's Action API, found lazily and logged into on first use."""

    def __init__(self, config: WikiConfig) -> None:
        self.config = config
        self.source = config.name
        self.http: HttpClient = wiki_http(config, site_root(config.url, ENTRY_POINTS))
        self.session = WikiSession(self._login)
        self._endpoint: str | None = None
        self._siteinfo: dict[str, Any] | None = None

    # --- finding the API ----------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The URL of ``api.php``."""
        if self._endpoint is None:
            self._endpoint = self._discover()
        return self._endpoint

    def _discover(self) -> str:
        url = self.config.url
        root = site_root(url, ENTRY_POINTS)
        candidates = [url.split("?", 1)[0]] if url.split("?", 1)[0].endswith("api.php") else []
        candidates += [f"{root}/api.php", f"{root}/w/api.php"]
        for candidate in dict.fromkeys(candidates):
            if self._is_api(candidate):
                return candidate
        linked = self._edit_uri(url)
        if linked and self._is_api(linked):
            return linked
        raise ConnectorError(
            f"{self.source}: no MediaWiki API found at {url} (tried api.php, /w/api.php and the page's "
            "EditURI link): set url to the wiki's address"
        )

    def _is_api(self, candidate: str) -> bool:
        try:
            response = self.http.get(candidate, params={"action": "query", "meta": "siteinfo", "format": "json"})
        except HttpStatusError:
            return False
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and ("query" in body or "error" in body or "batchcomplete" in body)

    def _edit_uri(self, url: str) -> str | None:
        try:
            response = self.http.get(url)
        except HttpStatusError:
            return None
        if "html" not in response.headers.get("content-type", ""):
            return None
        from bs4 import BeautifulSoup  # only when the API must be found through a page's links

        link = BeautifulSoup(response.text, "html.parser").find("link", rel="EditURI")
        href = link.get("href") if link is not None else None
        if not isinstance(href, str):
            return None
        api = str(response.url.join(href.split("?", 1)[0]))
        return api if api.endswith("api.php") else None

    # --- calls --------------------------------------------------------------------------

    def call(self, params: dict[str, Any]) -> dict[str, Any]:
        """One API read (logged in if configured); API errors become typed errors."""
        return self.session.call(lambda: self._request(params, post=False, as_user=bool(self.config.username)))

    def query(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """``action=query`` with continuation: yields the ``query`` part of every batch.

        An error in any batch raises, so a caller never mistakes half a listing for all of it.
        """
        request: dict[str, Any] = {"action": "query", **params}
        while True:
            body = self.call(request)
            yield body.get("query", {})
            if "continue" not in body:
                return
            request = {"action": "query", **params, **body["continue"]}

    def siteinfo(self) -> dict[str, Any]:
        """General settings, namespaces and namespace aliases (fetched once)."""
        if self._siteinfo is None:
            body = self.call(
                {"action": "query", "meta": "siteinfo", "siprop": "general|namespaces|namespacealiases"}
            )
            self._siteinfo = body["query"]
        return self._siteinfo

    def server_time(self) -> str:
        """The wiki server's clock (ISO 8601, UTC), so cursors never depend on ours."""
        body = self.call({"action": "query", "meta": "siteinfo", "siprop": "general"})
        return str(body["query"]["general"]["time"])

    def _request(self, params: dict[str, Any], *, post: bool, as_user: bool) -> dict[str, Any]:
        full = {**params, "format": "json", "formatversion": "2", "errorformat": "plaintext"}
        if as_user and params.get("action") != "login":
            full["assert"] = "user"  # an expired session then fails loudly instead of reading anonymously
        if post:
            body = self.http.json("POST", self.endpoint, data=full)
        else:
            body = self.http.json("GET", self.endpoint, params=full)
        if not isinstance(body, dict):
            raise ConnectorError(f"{self.source}: {self.endpoint} did not answer like a MediaWiki API")
        errors = body.get("errors") or []
        if errors:
            raise self._error(str(errors[0].get("code", "unknown")), str(errors[0].get("text", "")).strip())
        return body

    def _error(self, code: str, text: str) -> ConnectorError:
        if code in ("assertuserfailed", "assertbotfailed", "badtoken", "notloggedin"):
            return SessionExpired(f"{self.source}: the wiki session expired ({code})")
        if code in ("readapidenied", "permissiondenied", "mwoauth-invalid-authorization"):
            who = f"the account {self.config.username!r}" if self.config.username else "anonymous users"
            hint = (
                "give the account (and its bot password's grants) read access"
                if self.config.username
                else "this wiki is private: set username and password_env (a bot password)"
            )
            return CredentialsError(f"{self.source}: {who} may not read this wiki ({text or code}): {hint}")
        return ApiError(f"{self.source}: the wiki's API refused a request: {code}: {text}", code)

    # --- login --------------------------------------------------------------------------

    def _login(self) -> None:
        password = wiki_password(self.config)
        if not self.config.username or password is None:
            return
        token_body = self._request(
            {"action": "query", "meta": "tokens", "type": "login"}, post=False, as_user=False
        )
        token = token_body["query"]["tokens"]["logintoken"]
        body = self._request(
            {"action": "login", "lgname": self.config.username, "lgpassword": password, "lgtoken": token},
            post=True,
            as_user=False,
        )
        result = body.get("login", {})
        if result.get("result") != "Success":
            reason = _plain(result.get("reason") or result.get("result") or "unknown reason")
            raise CredentialsError(
                f"{self.source}: login as {self.config.username!r} failed: {reason.rstrip('.')}. Check that "
                f"${self.config.password_env} holds a bot password of this account (Special:BotPasswords; "
                "the username is 'User@botname')"
            )
        log.info("%s: logged in as %s", self.source, self.config.username)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


def _plain(reason: Any) -> str:
    """A login failure reason as one line of text (a message object with ``errorformat``)."""
    text = str(reason.get("text") or reason.get("code") or reason) if isinstance(reason, dict) else str(reason)
    return " ".join(re.sub(r"<[^>]+>", "", text).split())
