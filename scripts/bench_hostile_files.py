"""Index a folder of hostile files through the product pipeline and print what each one cost.

    PYTHONPATH=. .venv/bin/python scripts/bench_hostile_files.py [--keep DIR] [--hashing]

Generates (in a temporary folder, or DIR) one file of every class the red team found
(tests/hostile_files.py): a .docx of 130,000 tiny paragraphs, a .docx zip bomb, a .docx of
60 MB of text, JSON and CSV that flatten to many times their size, a YAML anchor bomb in front
matter, 200,000 ``[`` in Markdown, a paragraph of 200,000 lines under a setext underline, HTML
nested 100,000 deep, a YAML line of 200,000 blanks, a PDF of 20,000 pages, a PDF nested
50,000 deep, a pathological ``.orgkbignore`` pattern, a symlink loop, a FIFO, a socket, and
names with ``#``, ``%2e``, a newline and a byte that is not UTF-8; plus a few ordinary files.

Then runs orgkb's `Indexer` over it with the real embedding model (``--hashing``: the hashing
embedder, to time parsing alone) and prints, per file: outcome, wall time, and peak RSS of this
process and of the parser worker while that file was handled; then totals. Nothing is asserted.
The acceptance bar: the whole folder in under 2 minutes with peak RSS under 1 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests import hostile_files as hostile  # noqa: E402


def build_folder(folder: Path) -> list[Any]:
    """Write every hostile file (and some ordinary ones) into ``folder``; return objects to keep open."""
    folder.mkdir(parents=True, exist_ok=True)
    hostile.docx_many_paragraphs(folder)
    hostile.docx_zip_bomb(folder)
    hostile.docx_huge_paragraph(folder)
    hostile.json_blowup(folder)
    hostile.csv_blowup(folder)
    hostile.yaml_anchor_bomb(folder)
    hostile.markdown_brackets(folder)
    hostile.markdown_setext_paragraph(folder)
    hostile.html_deep_nesting(folder)
    hostile.yaml_long_line(folder)
    hostile.pdf_many_pages(folder)
    hostile.pdf_deep_nesting(folder)
    hostile.pathological_ignore(folder)
    hostile.symlink_loop(folder)
    hostile.fifo(folder)
    _, server = hostile.unix_socket(folder)
    hostile.odd_names(folder)
    for number in range(5):
        (folder / f"ordinary-{number}.md").write_text(f"# Ordinary page {number}\n\nA normal page about topic {number}.\n")
    return [server]


def _hwm_kb(pid: int | str = "self") -> int:
    """Peak resident set (VmHWM) of a process in KB, 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_hwm(pid: int | str = "self") -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM (Linux)
    except OSError:
        pass


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), 0 if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _children() -> list[int]:
    pids: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


class Recorder:
    """A `Progress` that notes time and peak memory between one document and the next."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, int, int]] = []
        self.mark = time.perf_counter()
        self.cpu_mark = self._cpu()

    @staticmethod
    def _cpu() -> float:
        # This process and its parser worker: CPU time does not depend on how loaded the machine is.
        return time.process_time() + sum(_cpu_seconds(pid) for pid in _children())

    def _lap(self, label: str) -> None:
        now, cpu = time.perf_counter(), self._cpu()
        workers = _children()
        rss = max((_hwm_kb(p) for p in workers), default=0)
        self.rows.append((label, now - self.mark, max(0.0, cpu - self.cpu_mark), _hwm_kb(), rss))
        _reset_hwm()
        for pid in workers:
            _reset_hwm(pid)
        self.mark, self.cpu_mark = time.perf_counter(), self._cpu()

    def start_source(self, source: str) -> None:
        self.mark, self.cpu_mark = time.perf_counter(), self._cpu()

    def advance(self, source: str, documents: int, detail: str) -> None:
        self._lap(detail)

    def end_source(self, summary: Any) -> None:
        self._lap("(final batch: embedding and writing)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="Build the folder and index here (kept afterwards).")
    parser.add_argument("--hashing", action="store_true", help="Use the hashing embedder (parsing cost alone).")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="orgkb-hostile-"))
    folder = work / "hostile"
    started = time.perf_counter()
    keep_open = build_folder(folder)
    print(f"generated {sum(1 for _ in folder.rglob('*'))} entries in {folder} in {time.perf_counter() - started:.1f} s")

    from orgkb.connectors.formats.worker import parse_isolated  # noqa: F401 - the worker module
    from orgkb.connectors.formats import worker
    from orgkb.server.config import EmbeddingConfig, OrgkbConfig
    from orgkb.server.embedding.embedder import HashingEmbedder, SentenceTransformerEmbedder
    from orgkb.server.index.indexer import Indexer
    from orgkb.server.index.knowledge import KnowledgeIndex

    config = OrgkbConfig.model_validate(
        {"data_dir": str(work / "data"), "sources": [{"name": "hostile", "type": "files", "paths": [str(folder)]}]}
    )
    embedder: Any = HashingEmbedder() if args.hashing else SentenceTransformerEmbedder(EmbeddingConfig())
    if not args.hashing:
        embedder.load()
    index = KnowledgeIndex(config, embedder=embedder)
    recorder = Recorder()
    _reset_hwm()
    rss_before = _hwm_kb()
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = Indexer(index, progress=recorder).run()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    worker._WORKER.close()
    worker_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    source = summary.sources[0]
    outcomes = {f.key: ("skipped: " if f.skipped and not f.message.startswith("skipped") else "") + f.message for f in source.failures}

    print(f"\n| {'file':32} | {'outcome':90} | {'wall s':>6} | {'cpu s':>6} | {'RSS MB':>6} | {'worker MB':>9} |")
    print(f"|{'-' * 34}|{'-' * 92}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 11}|")
    for label, lap, cpu, rss, worker_rss in recorder.rows:
        outcome = outcomes.get(label, "indexed" if not label.startswith("(") else "")
        shown = label.replace("\n", "\\n")
        print(f"| {shown[:32]:32} | {outcome[:90]:90} | {lap:6.2f} | {cpu:6.2f} | {rss / 1024:6.0f} | {worker_rss / 1024:9.0f} |")
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"\ntotal: {seconds:.1f} s indexing wall, {cpu_seconds + worker_cpu.ru_utime + worker_cpu.ru_stime:.1f} s CPU "
        f"(indexer {cpu_seconds:.1f}, parser workers {worker_cpu.ru_utime + worker_cpu.ru_stime:.1f}); added {source.added}, failed {source.failed}, skipped {source.skipped}, "
        f"chunks {source.chunks_embedded}; source error: {source.error}"
    )
    print(
        f"peak RSS: indexer process {self_peak:.0f} MB (model loaded before: {rss_before / 1024:.0f} MB), "
        f"parser workers {child_peak:.0f} MB"
    )
    index.catalog.close()
    for item in keep_open:
        item.close()


if __name__ == "__main__":
    main()
