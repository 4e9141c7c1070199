"""The shared HTTP client against a real local HTTP server: retries, backoff, typed errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orgkb.connectors.base import ConnectorError, CredentialsError
from orgkb.connectors.http import HttpClient, secret_from_env


class _Handler(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        count = self.calls[self.path] = self.calls.get(self.path, 0) + 1
        if self.path == "/flaky" and count <= 2:
            self._send(503, b"busy")
        elif self.path == "/private":
            self._send(401, b"no")
        elif self.path == "/html":
            self._send(200, b"<html>login</html>", "text/html")
        elif self.path == "/missing":
            self._send(404, b"nope")
        else:
            self._send(200, b'{"ok": true}', "application/json")

    def _send(self, status: int, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.calls = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_transient_errors_are_retried(server: str) -> None:
    client = HttpClient("wiki", server, backoff=0.01)
    assert client.json("GET", "/flaky") == {"ok": True}
    assert _Handler.calls["/flaky"] == 3


def test_retries_are_bounded(server: str) -> None:
    client = HttpClient("wiki", server, backoff=0.01, retries=1)
    with pytest.raises(ConnectorError, match="HTTP 503"):
        client.get("/flaky")
    assert _Handler.calls["/flaky"] == 2


def test_auth_and_other_errors_are_typed_and_clear(server: str) -> None:
    client = HttpClient("wiki", server, backoff=0.01)
    with pytest.raises(CredentialsError, match="HTTP 401"):
        client.get("/private")
    assert _Handler.calls["/private"] == 1  # never retried
    with pytest.raises(ConnectorError, match="HTTP 404"):
        client.get("/missing")
    with pytest.raises(ConnectorError, match="did not answer with JSON"):
        client.json("GET", "/html")


def test_server_down_is_a_connector_error() -> None:
    client = HttpClient("wiki", "http://127.0.0.1:9", backoff=0.01, retries=1)
    with pytest.raises(ConnectorError, match="cannot reach"):
        client.get("/")


def test_secrets_come_from_named_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIKI_TOKEN", "s3cret")
    assert secret_from_env("WIKI_TOKEN", "wiki") == "s3cret"
    monkeypatch.delenv("WIKI_TOKEN")
    with pytest.raises(CredentialsError, match="WIKI_TOKEN"):
        secret_from_env("WIKI_TOKEN", "wiki", "API token")
