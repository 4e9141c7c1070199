"""The same index and search against a real Chroma server (HttpClient) instead of embedded Chroma."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.search.searcher import Searcher
from tests.conftest import IndexFactory


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if binary is None:
        pytest.fail("the chroma CLI (installed with chromadb) is missing")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("w")
    process = subprocess.Popen(
        [binary, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                pytest.fail(f"chroma server exited: {(data / 'server.log').read_text()}")
            time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start within 60 s")
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_index_and_search_through_a_chroma_server(
    chroma_server: int, tmp_path: Path, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lunch.md").write_text("# Canteen\n\nThe canteen serves vegetarian lunch from noon until two.\n")
    (docs / "keys.md").write_text("# Keys\n\nLost office keys are replaced by facility management for 25 EUR.\n")
    store = {"kind": "http", "host": "127.0.0.1", "port": chroma_server, "collection": "orgkb-test"}
    index = make_index([{"name": "office", "type": "files", "paths": [str(docs)]}], real_embedder, store=store)
    summary = Indexer(index).run()
    assert summary.total("added") == 2
    # Nothing was written to an embedded Chroma in the data directory.
    assert not (index.data_dir / "chroma").exists()
    assert index.store.count() == 2
    hit = Searcher(index).search("what do I pay for a lost key", limit=1, mode="semantic").hits[0]
    assert hit.doc_id == "office:keys.md" and "25 EUR" in hit.text
    (docs / "keys.md").unlink()
    assert Indexer(index).run().total("deleted") == 1
    assert index.store.count() == 1


def test_unreachable_chroma_server_is_one_clear_error(tmp_path: Path, make_index: IndexFactory, real_embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    store = {"kind": "http", "host": "127.0.0.1", "port": _free_port()}
    index = make_index([{"name": "office", "type": "files", "paths": [str(docs)]}], real_embedder, store=store)
    from orgkb.server.errors import OrgkbError

    with pytest.raises(OrgkbError, match="Chroma server at http://127.0.0.1"):
        Indexer(index).run()
