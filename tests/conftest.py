"""Shared fixtures: the real packaged embedding model, loaded once, and index factories.

Tests of user-facing paths use the real model and a real embedded Chroma; a hashing embedder
is offered only for logic that does not depend on meaning.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = PROJECT_ROOT / "sample_docs"
SHARED = PROJECT_ROOT.parent / "shared"

from server.config import EmbeddingConfig, OrgkbConfig, load_config  # noqa: E402
from server.embedding import Embedder, HashingEmbedder, SentenceTransformerEmbedder  # noqa: E402
from server.knowledge import KnowledgeIndex  # noqa: E402


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The default packaged model (all-MiniLM-L6-v2), loaded once per test session."""
    embedder = SentenceTransformerEmbedder(EmbeddingConfig())
    embedder.load()
    return embedder


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    """A fast deterministic embedder for plumbing tests (records what it embedded)."""
    return HashingEmbedder()


def toml_value(value: Any) -> str:
    """A Python value as TOML (strings, numbers, bools, lists, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def write_config(path: Path, sources: list[dict[str, Any]], **sections: dict[str, Any]) -> Path:
    """Write an orgkb.toml with ``[[sources]]`` entries and optional sections (``search={...}``)."""
    lines = [f"data_dir = {toml_value(path.parent / 'data')}"]
    for name, values in sections.items():
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
    for source in sources:
        lines.append("\n[[sources]]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in source.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


IndexFactory = Callable[..., KnowledgeIndex]


@pytest.fixture
def make_index(tmp_path: Path) -> Iterator[IndexFactory]:
    """Build a `KnowledgeIndex` over given sources in a fresh data directory.

    ``make_index(sources, embedder=..., **sections)`` writes a config into ``tmp_path`` and
    returns the index; its config is at ``index.config_path``.
    """
    created: list[KnowledgeIndex] = []

    def factory(sources: list[dict[str, Any]], embedder: Embedder, name: str = "orgkb.toml", **sections: Any) -> KnowledgeIndex:
        config_path = write_config(tmp_path / name, sources, **sections)
        config: OrgkbConfig = load_config(config_path)
        index = KnowledgeIndex(config, embedder=embedder)
        index.config_path = config_path  # type: ignore[attr-defined]
        created.append(index)
        return index

    yield factory
    for index in created:
        index.catalog.close()


def orgkb_command(*args: str) -> list[str]:
    """The argv that runs the `orgkb` CLI of this checkout in a subprocess."""
    return [sys.executable, "-m", "server", *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for CLI/server subprocesses: offline model, this checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HF_HUB_OFFLINE"] = "1"
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL 15 server on 127.0.0.1 (free port), started once per session.

    Yields a `tests.postgres_server.PostgresServer`; skips with the reason when PostgreSQL is
    not installed (scripts/install-test-services.sh installs it) or the tests do not run as root.
    """
    from tests.postgres_server import PostgresServer, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    server = PostgresServer.start()
    yield server
    server.stop()
