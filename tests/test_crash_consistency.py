"""kill -9 at random moments never leaves an inconsistent index (issue 14).

`orgkb index` (a subprocess) and `orgkb serve` during a `reindex` tool call (a real MCP client
over stdio) are killed with SIGKILL at random moments — start-up, listing, embedding, the
vector write window — over a folder of a few hundred generated documents that change between
rounds. After each kill `orgkb verify` runs, and after the next complete run too. What holds
when (the write protocol in `orgkb.server.store.catalog`):

- at every instant, so directly after a kill: every catalog chunk has a vector with the
  catalog's doc_id and source; every vector that is no chunk is recorded in pending_vectors;
  the FTS5 tables, chunk counts and chunk positions agree with the catalog. `orgkb verify`
  exits 0; vectors awaiting cleanup may be reported, and the index may lag the sources.
- after a complete run: additionally nothing is pending, and the index holds exactly what the
  sources hold (`orgkb verify --sources`).

The subprocesses embed with the hashing embedder, paced like a model (1 ms a text): what is
tested is the write protocol, which does not depend on meaning, and the real model would
leave time for three kills instead of ten. `tests/test_verify.py` runs verify with the model.
The seed is printed; ORGKB_CRASH_SEED reruns one sequence.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from orgkb.server.index.writer_lock import HOLDER_NAME
from tests.conftest import PROJECT_ROOT, orgkb_command, subprocess_env, write_config

pytestmark = pytest.mark.slow

# `python -c LAUNCHER <orgkb arguments>`: the orgkb CLI with a paced hashing embedder.
LAUNCHER = """
import sys, time
import orgkb.server.index.knowledge as knowledge
from orgkb.server.embedding.embedder import HashingEmbedder

class PacedHashingEmbedder(HashingEmbedder):
    def embed_documents(self, texts):
        time.sleep(0.001 * len(texts))
        return super().embed_documents(texts)

knowledge.create_embedder = lambda config: PacedHashingEmbedder()
from orgkb.server.cli.main import main
sys.exit(main())
"""

WORDS = (
    "policy expense travel laptop approval manager budget holiday leave security password network printer "
    "office contract invoice payroll training onboarding badge parking canteen backup archive audit"
).split()
DOCUMENTS = 300


class Corpus:
    """A folder of generated Markdown documents (about six chunks each) that changes between rounds."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.next_number = 0
        root.mkdir(parents=True)
        for _ in range(DOCUMENTS):
            self.add()

    def _text(self, number: int) -> str:
        paragraphs = [" ".join(self.rng.choice(WORDS) for _ in range(25)) + "." for _ in range(self.rng.randint(4, 7))]
        return f"# Document {number}\n\n" + "\n\n".join(paragraphs) + "\n"

    def add(self) -> None:
        number, self.next_number = self.next_number, self.next_number + 1
        folder = self.root / f"part{number % 5}"
        folder.mkdir(exist_ok=True)
        (folder / f"doc{number:05d}.md").write_text(self._text(number), encoding="utf-8")

    def change(self) -> None:
        """Rewrite a quarter of the documents, add 30 and delete 20: real work for the next run."""
        files = sorted(self.root.rglob("*.md"))
        for path in self.rng.sample(files, len(files) // 4):
            path.write_text(self._text(int(path.stem[3:])), encoding="utf-8")
        for path in self.rng.sample(files, 20):
            path.unlink(missing_ok=True)
        for _ in range(30):
            self.add()


def _verify(config: Path, *extra: str, before_any_index: bool = False) -> dict[str, Any]:
    """`orgkb verify --json` (the real CLI: checking needs no model); its report.

    ``before_any_index``: the run was killed before it created the index (a start-up kill of the
    first run), where "there is no index" is the right answer and there is nothing to check.
    """
    result = subprocess.run(orgkb_command("--config", str(config), "verify", "--json", *extra),
                            capture_output=True, text=True, env=subprocess_env(), timeout=120)
    if before_any_index and result.returncode == 2 and "there is no index" in result.stderr:
        return {"consistent": True, "findings": [], "chunks": 0, "vectors": 0}
    assert result.stdout.strip(), f"orgkb verify printed no report (exit {result.returncode}): {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    assert result.returncode == (0 if report["consistent"] else 1), result.stderr
    return report


def _problems(report: dict[str, Any]) -> list[tuple[str, int, list[str]]]:
    pending = {"pending_cleanup", "pending_current"}
    return [(f["kind"], f["count"], f["examples"]) for f in report["findings"] if f["kind"] not in pending]


def _assert_consistent_after_kill(config: Path, moment: str, *, before_any_index: bool = False) -> dict[str, Any]:
    report = _verify(config, before_any_index=before_any_index)
    assert report["consistent"] and not _problems(report), f"after a kill {moment}: {_problems(report)}"
    return report


def _assert_complete(config: Path) -> None:
    """After a complete run: consistent, nothing pending, and exactly what the source holds."""
    report = _verify(config, "--sources")
    assert report["consistent"] and report["findings"] == [], report["findings"]
    assert report["chunks"] == report["vectors"] > DOCUMENTS


def _index(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", LAUNCHER, "--config", str(config), "index"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=subprocess_env(), cwd=PROJECT_ROOT)


def _index_to_completion(config: Path) -> None:
    process = _index(config)
    assert process.wait(timeout=120) == 0


def _setup(tmp_path: Path, **sections: Any) -> tuple[Path, Corpus, random.Random]:
    seed = int(os.environ.get("ORGKB_CRASH_SEED", time.time_ns() % 1_000_000))
    print(f"crash test seed: {seed} (ORGKB_CRASH_SEED={seed} reruns it)")
    rng = random.Random(seed)
    corpus = Corpus(tmp_path / "docs", rng)
    config = write_config(tmp_path / "orgkb.toml", [{"name": "docs", "type": "files", "paths": [str(corpus.root)]}],
                          chunking={"max_tokens": 32}, **sections)
    return config, corpus, rng


def _writer_pid(data_dir: Path, config: Path, timeout: float = 30.0) -> int | None:
    """The pid of our orgkb process once it holds the writer lock (the lock file names it;
    /proc confirms it is ours and alive, not a killed one's leftover); None if none did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = int((data_dir / HOLDER_NAME).read_text(encoding="utf-8").split()[0])
            if str(config) in Path(f"/proc/{pid}/cmdline").read_text(encoding="utf-8", errors="replace"):
                return pid
        except (OSError, ValueError, IndexError):
            pass  # not written yet, or the file of a process gone
        time.sleep(0.02)
    return None


def _pending_ids(catalog: Path) -> set[str]:
    """The ids in pending_vectors now (read-only, beside a writer: WAL lets it)."""
    try:
        with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=1.0) as db:
            return {row[0] for row in db.execute("SELECT chunk_id FROM pending_vectors")}
    except sqlite3.OperationalError:
        return set()  # no catalog yet, or locked for a moment


def _in_write_window(catalog: Path, before: set[str], timeout: float = 30.0) -> bool:
    """Wait until vectors are being written: ids recorded as pending that were not before
    the run (a crashed run's leftovers are), between the vector store and the catalog."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _pending_ids(catalog) - before:
            return True
        time.sleep(0.005)
    return False


def test_kill_9_during_index_runs(tmp_path: Path) -> None:
    config, corpus, rng = _setup(tmp_path)
    data_dir = tmp_path / "data"
    kills, left_pending = 0, 0
    moments = ["start-up", "write window", "write window", "any", "any"]
    rng.shuffle(moments)
    # Round 0 kills the first run (everything to embed); later rounds kill runs over changes.
    # Odd rounds then let a run finish; even ones leave the next run to start from the crash.
    for round_number, moment in enumerate(moments):
        if round_number:
            corpus.change()
        before = _pending_ids(data_dir / "catalog.sqlite3")
        process = _index(config)
        if moment == "start-up":  # imports, config, before the writer lock
            delay = rng.uniform(0.1, 1.5)
        else:
            assert _writer_pid(data_dir, config) == process.pid or process.poll() is not None
            if moment == "write window" and _in_write_window(data_dir / "catalog.sqlite3", before):
                delay = 0.0
            else:  # from taking the lock on: opening the stores, listing, embedding, writing
                delay = rng.uniform(0.0, 4.0 if round_number == 0 else 2.5)
                moment = f"{delay:.2f}s after taking the writer lock"
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            kills += 1
        first_start_up = round_number == 0 and moment == "start-up"  # may die before the index exists
        report = _assert_consistent_after_kill(config, f"{moment}, round {round_number}", before_any_index=first_start_up)
        left_pending += any(f["kind"] == "pending_cleanup" for f in report["findings"])
        print(f"round {round_number}: killed {moment}: {report['chunks']} chunks, {report['vectors']} vectors")
        if round_number % 2 or round_number == len(moments) - 1:
            _index_to_completion(config)
            _assert_complete(config)
    print(f"{kills} kills of `orgkb index`; {left_pending} left vectors awaiting cleanup")
    assert kills >= 4, "most runs should have been killed, not finished first"


async def _kill_during_reindex(config: Path, rng: random.Random, moment: str) -> str:
    """Start `orgkb serve`, call `reindex`, kill -9 the server during the call: in the vector
    write window, or a random time after its first progress notification. Returns whether the
    call was "killed" or had "finished" first."""
    params = StdioServerParameters(
        command=sys.executable, args=["-c", LAUNCHER, "--config", str(config), "serve"],
        env=subprocess_env(), cwd=str(PROJECT_ROOT),
    )
    catalog = config.parent / "data" / "catalog.sqlite3"
    before = _pending_ids(catalog)
    started = anyio.Event()
    outcome = "killed"
    killed = False

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        started.set()

    try:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            pid = _writer_pid(config.parent / "data", config)
            assert pid is not None, "orgkb serve did not take the writer lock"

            async def call() -> None:
                nonlocal outcome
                try:
                    result = await session.call_tool("reindex", {"full": rng.random() < 0.5}, progress_callback=on_progress)
                    outcome = "finished" if not result.is_error else f"failed: {result.content}"
                except Exception:  # noqa: BLE001 - the server died mid-call, as intended
                    if not killed:
                        raise
                started.set()

            with anyio.fail_after(90):
                async with anyio.create_task_group() as group:
                    group.start_soon(call)
                    await started.wait()
                    if moment == "write window":
                        await anyio.to_thread.run_sync(_in_write_window, catalog, before, 30.0)
                    else:
                        await anyio.sleep(rng.uniform(0.0, 4.0))
                    killed = True
                    os.kill(pid, signal.SIGKILL)
    except Exception:  # noqa: BLE001 - how the transport notices the dead server varies
        if not killed:
            raise
    return outcome


def test_kill_9_during_a_reindex_tool_call(tmp_path: Path) -> None:
    # Only the tool writes: no catch-up at start, no folder watching.
    config, corpus, rng = _setup(tmp_path, **{"server.live": {"catch_up": False, "watch": False}})
    _index_to_completion(config)
    outcomes = []
    for round_number, moment in enumerate(["write window", "any", "write window", "any"]):
        corpus.change()
        outcome = anyio.run(_kill_during_reindex, config, rng, moment)
        outcomes.append(outcome)
        assert outcome in ("killed", "finished")
        report = _assert_consistent_after_kill(config, f"during a reindex call ({moment}, round {round_number})")
        print(f"round {round_number}: reindex {outcome} ({moment}): {report['chunks']} chunks, {report['vectors']} vectors,"
              f" {sum(f['count'] for f in report['findings'])} awaiting cleanup")
    _index_to_completion(config)
    _assert_complete(config)
    assert outcomes.count("killed") >= 2, outcomes
