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

from orgkb.server.config import EmbeddingConfig, OrgkbConfig, load_config  # noqa: E402
from orgkb.server.embedding.embedder import Embedder, HashingEmbedder, SentenceTransformerEmbedder  # noqa: E402
from orgkb.server.index.knowledge import KnowledgeIndex  # noqa: E402
from tests.wikiservers import DokuWikiServer, MediaWikiServer, missing_programs  # noqa: E402


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
        index.close()


def orgkb_command(*args: str) -> list[str]:
    """The argv that runs the `orgkb` CLI of this checkout in a subprocess."""
    return [sys.executable, "-m", "orgkb.server", *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for CLI/server subprocesses: offline model, this checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HF_HUB_OFFLINE"] = "1"
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def samba() -> Iterator[Any]:
    """A real Samba server (Debian's smbd) on 127.0.0.1, started once per session.

    Its ``docs`` share is readable by ``samba.user``; tests write files with ``samba.write``
    under a folder of their own and point a source's ``path`` at it.
    """
    import shutil
    import tempfile

    from tests.samba_server import SambaServer, free_port

    if not SambaServer.available():
        pytest.skip("smbd is not installed (scripts/install-test-services.sh installs Debian's samba) or not root")
    # Not under pytest's tmp folders: they are private to root, and smbd reads as the share's user.
    root = Path(tempfile.mkdtemp(prefix="orgkb-samba-"))
    root.chmod(0o755)
    server = SambaServer(root, free_port(18445))
    server.setup()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def samba_domain() -> Iterator[Any]:
    """A real Samba Active Directory domain controller (``ORGKB.TEST``) on 127.0.0.1, provisioned
    and started once per session (see tests/samba_ad.py for its users, groups and share).

    Skips with the reason when ``samba-tool`` and the other Samba AD programs are missing
    (scripts/install-test-services.sh installs them), fails when they exist but cannot run.
    """
    import shutil
    import tempfile

    from tests.samba_ad import SambaDomain, unavailable_reason

    if not Path("/usr/bin/samba-tool").exists():
        pytest.skip("samba-tool is not installed (scripts/install-test-services.sh installs samba-ad-dc)")
    reason = unavailable_reason()
    if reason is not None:
        pytest.fail(reason)
    root = Path(tempfile.mkdtemp(prefix="orgkb-ad-"))
    root.chmod(0o755)  # smbd opens the share's files as the (non-root) user who logged in
    domain = SambaDomain(root)
    try:
        domain.provision()
        domain.start()
        yield domain
    finally:
        domain.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def confluence_server() -> Iterator[Any]:
    """A local server answering like Confluence Cloud's REST API (documented shapes; see tests/fake_confluence.py)."""
    from tests.fake_confluence import FakeConfluence

    server = FakeConfluence("cloud").start()
    yield server
    server.stop()
def _running(server_type: type[MediaWikiServer] | type[DokuWikiServer], workdir: Path) -> Iterator[Any]:
    """Start a wiki server for the session; skip where PHP or DokuWiki is missing (fail in CI,
    which installs them)."""
    reason = missing_programs()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = server_type(workdir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mediawiki_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaWikiServer]:
    """A private MediaWiki 1.39 (PHP built-in server, SQLite) on 127.0.0.1, once per session."""
    yield from _running(MediaWikiServer, tmp_path_factory.mktemp("mediawiki"))


@pytest.fixture(scope="session")
def dokuwiki_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DokuWikiServer]:
    """A private DokuWiki (Debian's package, XML-RPC on) on 127.0.0.1, once per session."""
    yield from _running(DokuWikiServer, tmp_path_factory.mktemp("dokuwiki"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL 15 server on 127.0.0.1 (free port), started once per session.

    Yields a `tests.postgres_server.PostgresServer`; skips with the reason when PostgreSQL is
    not installed (scripts/install-test-services.sh installs it) or the tests do not run as root.
    """
    from tests.postgres_server import PostgresServer, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer.start()
    yield server
    server.stop()
