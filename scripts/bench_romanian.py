"""Romanian retrieval, before and after language-aware analysis: success@5 and MRR@10.

The corpus is the sample company's Romanian subsidiary (sample_docs/romania, sample_docs/wiki-ro),
its English handbook and IT pages (a mixed organisation, as in life), and Debian's real Romanian
man pages (`apt-get install -y manpages-ro man-db`; rendered to text here). The questions
(scripts/bench_romanian_questions.json) use other inflections than the pages; each is asked
as written and with its diacritics stripped.

Configurations:
- english: every source declared `language = "en"`: English Porter stemming with diacritics
  folded, which is what schema 2's `porter unicode61 remove_diacritics 2` did for every language;
- detected: languages detected, Romanian text Snowball-stemmed with Romanian stopwords;
- detected, no shift: the same, without leaning on BM25 for languages the model lacks.

    .venv/bin/python scripts/bench_romanian.py [--modes keyword hybrid] [--work /tmp/bench-ro]

Needs the packaged embedding model; indexing takes about a minute per configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from orgkb.server.config import OrgkbConfig  # noqa: E402
from orgkb.server.index.indexer import Indexer  # noqa: E402
from orgkb.server.index.knowledge import KnowledgeIndex  # noqa: E402
from orgkb.server.language.analysis import fold  # noqa: E402
from orgkb.server.search.searcher import Searcher  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_docs"
QUESTIONS = Path(__file__).with_name("bench_romanian_questions.json")
MAN_DIR = Path("/usr/share/man/ro")
# Near-copies of ls(1): which of the three is "the right page" would be a coin toss.
MAN_SKIPPED = {"dir.1", "vdir.1"}


def render_man_pages(out: Path) -> int:
    """Render every Romanian man page (not the alias links) to text in ``out``; return how many."""
    if not MAN_DIR.is_dir() or shutil.which("man") is None:
        raise SystemExit("Romanian man pages missing: apt-get install -y manpages-ro man-db")
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for page in sorted(MAN_DIR.glob("man*/*.gz")):
        name = page.name.removesuffix(".gz")
        if page.is_symlink() or name in MAN_SKIPPED:
            continue
        rendered = subprocess.run(
            ["man", "-l", str(page)], capture_output=True, check=True, env={**os.environ, "MANWIDTH": "100"}
        ).stdout
        text = subprocess.run(["col", "-bx"], input=rendered, capture_output=True, check=True).stdout
        (out / f"{name}.txt").write_bytes(text)
        count += 1
    return count


def build(work: Path, name: str, declared: str | None) -> KnowledgeIndex:
    """Index the corpus into ``work/name``; ``declared`` forces one language on every source."""
    extra = {"language": declared} if declared else {}
    sources = [
        {"name": "romania", "type": "files", "paths": [str(SAMPLE / "romania")], **extra},
        {"name": "wiki-ro", "type": "markdown_wiki", "path": str(SAMPLE / "wiki-ro"), **extra},
        {"name": "handbook", "type": "files", "paths": [str(SAMPLE / "handbook"), str(SAMPLE / "it")], **extra},
        {"name": "man", "type": "files", "paths": [str(work / "man")], **extra},
    ]
    config = OrgkbConfig.model_validate(
        {"data_dir": str(work / name), "sources": sources, "server": {"live": {"enabled": False}}},
        context={"base_dir": work},
    )
    index = KnowledgeIndex(config)
    summary = Indexer(index).run()
    if not summary.ok or summary.total("failed"):
        raise SystemExit(f"indexing failed: {summary}")
    return index


def score(searcher: Searcher, questions: list[dict[str, str]], mode: str, strip: bool) -> tuple[float, float]:
    """success@5 and MRR@10 over ``questions``."""
    found = reciprocal = 0.0
    for item in questions:
        query = fold(item["q"]) if strip else item["q"]
        ranked = list(dict.fromkeys(h.doc_id for h in searcher.search(query, limit=10, mode=mode).hits))  # type: ignore[arg-type]
        if item["doc"] in ranked[:5]:
            found += 1
        if item["doc"] in ranked[:10]:
            reciprocal += 1 / (ranked.index(item["doc"]) + 1)
    return found / len(questions), reciprocal / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/orgkb-bench-romanian"))
    parser.add_argument("--modes", nargs="+", default=["keyword", "hybrid"], choices=["keyword", "hybrid", "semantic"])
    args = parser.parse_args()
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    if args.work.exists():
        shutil.rmtree(args.work)
    pages = render_man_pages(args.work / "man")
    english = build(args.work, "english", "en")
    detected = build(args.work, "detected", None)
    known = {d.doc_id for d in detected.catalog.list_documents(limit=10_000)}
    missing = sorted({q["doc"] for q in questions} - known)
    if missing:
        raise SystemExit(f"questions name documents not in the corpus: {missing}")
    print(f"{len(questions)} questions; corpus {len(known)} documents ({pages} man pages); languages {detected.catalog.languages()}")
    print(f"{'configuration':<22} {'mode':<8} {'diacritics':<10} {'success@5':>9} {'MRR@10':>7}")
    for label, index, shift in [("english", english, True), ("detected", detected, True), ("detected, no shift", detected, False)]:
        if not shift:
            index.config.search.foreign_semantic_weight = index.config.search.semantic_weight
        searcher = Searcher(index)
        for mode in args.modes:
            if not shift and mode == "keyword":
                continue
            for strip in (False, True):
                success, mrr = score(searcher, questions, mode, strip)
                print(f"{label:<22} {mode:<8} {'stripped' if strip else 'as typed':<10} {success:>9.3f} {mrr:>7.3f}")


if __name__ == "__main__":
    main()
