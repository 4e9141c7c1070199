"""HTTP transport settings: token config, loopback rules, header checks (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgkb.server.config import load_config
from orgkb.server.errors import ConfigError
from orgkb.server.mcp.http import RequestGuard, check_bind, is_loopback, load_tokens
from tests.conftest import write_config


def _config(tmp_path: Path, tokens: list[dict[str, object]]) -> Path:
    (tmp_path / "docs").mkdir(exist_ok=True)
    sources = [{"name": "handbook", "type": "files", "paths": [str(tmp_path / "docs")]}]
    return write_config(tmp_path / "orgkb.toml", sources, **{"server.http": {"tokens": tokens}})


def test_token_config_mistakes_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tokens \(reader\): unknown source\(s\): wiki"):
        load_config(_config(tmp_path, [{"name": "reader", "token_env": "T1", "sources": ["wiki"]}]))
    with pytest.raises(ConfigError, match="names must be unique"):
        load_config(_config(tmp_path, [{"name": "a", "token_env": "T1"}, {"name": "a", "token_env": "T2"}]))
    with pytest.raises(ConfigError, match="token_env"):
        load_config(_config(tmp_path, [{"name": "a", "token": "inline-secrets-are-not-accepted"}]))


def test_tokens_come_from_the_environment_only(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, [{"name": "reader", "token_env": "READER_TOKEN", "sources": ["handbook"]}]))
    with pytest.raises(ConfigError, match="READER_TOKEN is not set"):
        load_tokens(config.server.http, {})
    tokens = load_tokens(config.server.http, {"ORGKB_HTTP_TOKEN": "main-secret", "READER_TOKEN": "reader-secret"})
    assert [(t.access.name, t.access.sources) for t in tokens] == [("default", None), ("reader", frozenset({"handbook"}))]
    assert "reader-secret" not in repr(tokens)
    with pytest.raises(ConfigError, match="same value"):
        load_tokens(config.server.http, {"ORGKB_HTTP_TOKEN": "same", "READER_TOKEN": "same"})


def test_only_loopback_may_go_without_a_token() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.10", "::", "example.org"))
    check_bind("127.0.0.1", [])
    with pytest.raises(ConfigError, match="refusing to listen on 192.168.1.10 without a token"):
        check_bind("192.168.1.10", [])


def test_guard_accepts_only_bearer_tokens_it_knows(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, [{"name": "reader", "token_env": "READER_TOKEN", "sources": ["handbook"]}]))
    tokens = load_tokens(config.server.http, {"ORGKB_HTTP_TOKEN": "main-secret", "READER_TOKEN": "reader-secret"})
    guard = RequestGuard(app=None, tokens=tokens, allowed_origins=[], allowed_hosts=None)  # type: ignore[arg-type]
    assert guard.authenticate("Bearer main-secret").sources is None  # type: ignore[union-attr]
    assert guard.authenticate("bearer reader-secret").sources == frozenset({"handbook"})  # type: ignore[union-attr]
    for header in (None, "", "Bearer", "Bearer wrong", "Basic main-secret", "main-secret", "Bearer main-secret-and-more"):
        assert guard.authenticate(header) is None, header


def test_static_tokens_may_stand_for_a_person(tmp_path: Path) -> None:
    entry = {"name": "payroll-bot", "token_env": "BOT_TOKEN", "user": "payroll", "groups": ["finance"]}
    config = load_config(_config(tmp_path, [entry, {"name": "plain", "token_env": "PLAIN_TOKEN"}]))
    bot, plain = load_tokens(config.server.http, {"BOT_TOKEN": "bot-secret", "PLAIN_TOKEN": "plain-secret"})
    assert bot.access.principal is not None and bot.access.principal.names == {"*", "user:payroll", "group:finance"}
    assert bot.access.allows(["group:finance"]) and not bot.access.allows(["group:hr"]) and not bot.access.allows(None)
    assert plain.access.principal is None and plain.access.allows(["group:hr"])  # limited by source only, as before
    with pytest.raises(ConfigError, match="need a `user`"):
        load_config(_config(tmp_path, [{"name": "a", "token_env": "T1", "groups": ["finance"]}]))


def test_oauth_config_mistakes_are_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir(exist_ok=True)
    cases = {
        "`audience` .* is required with `issuer`": {"issuer": "https://idp.example.org"},
        "unsupported algorithm.*HS256": {"issuer": "https://idp.example.org", "audience": "https://kb/mcp", "algorithms": ["HS256"]},
        "must be an http\\(s\\) URL": {"issuer": "idp.example.org", "audience": "https://kb/mcp"},
        "unknown key": {"issuer": "https://idp.example.org", "audience": "https://kb/mcp", "client_secret": "x"},
    }
    for message, section in cases.items():
        with pytest.raises(ConfigError, match=message):
            load_config(write_config(tmp_path / "orgkb.toml", [], **{"server.auth": section}))
    config = load_config(write_config(tmp_path / "orgkb.toml", [], **{"server.auth": {"issuer": "https://idp.example.org", "audience": "https://kb/mcp"}}))
    assert config.server.auth.enabled and config.server.auth.algorithms == ["RS256", "ES256"]
    assert not load_config(write_config(tmp_path / "orgkb.toml", [])).server.auth.enabled
