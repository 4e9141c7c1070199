"""`orgkb eval` end to end: a small BEIR slice, the real model, and metrics checked independently."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
from pathlib import Path

import pytest

from orgkb.server.eval.benchmark import load_beir
from tests.conftest import SHARED, orgkb_command, subprocess_env

SCIFACT = SHARED / "data" / "scifact"


def _write_beir(folder: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]]) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{s}" for q, d, s in qrels)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _scifact_slice(folder: Path) -> Path:
    """12 SciFact test queries, their relevant abstracts and random others: about 40 documents."""
    judged: dict[str, list[str]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc, _ = line.split("\t")
        judged.setdefault(qid, []).append(doc)
    chosen = list(judged)[:12]
    wanted = {doc for qid in chosen for doc in judged[qid]}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    others = [d for d in corpus if d["_id"] not in wanted]
    picked = [d for d in corpus if d["_id"] in wanted] + random.Random(3).sample(others, 40 - len(wanted))
    queries = [json.loads(line) for line in (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    return _write_beir(
        folder, picked, [q for q in queries if q["_id"] in chosen], [(q, d, 1) for q in chosen for d in judged[q]]
    )


def _own_dataset(folder: Path) -> Path:
    """A small BEIR set with graded judgments, for checkouts without the shared SciFact copy."""
    topics = ["volcano eruptions", "honey bee colonies", "tidal power", "sourdough baking", "chess openings",
              "glacier retreat", "coral bleaching", "jazz harmony", "bridge engineering", "solar flares"]
    corpus = []
    for number, topic in enumerate(topics):
        corpus.append({"_id": f"d{number}", "title": topic.title(), "text": f"A detailed overview of {topic}: causes, history and current research."})
        corpus.append({"_id": f"n{number}", "title": f"Notes on {topic}", "text": f"Short remarks that mention {topic} in passing."})
    queries = [{"_id": f"q{n}", "text": f"what is known about {t}"} for n, t in enumerate(topics)]
    qrels = [(f"q{n}", f"d{n}", 2) for n in range(len(topics))] + [(f"q{n}", f"n{n}", 1) for n in range(len(topics))]
    return _write_beir(folder, corpus, queries, qrels)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("beir") / "slice"
    return _scifact_slice(folder) if (SCIFACT / "corpus.jsonl").is_file() else _own_dataset(folder)


def _eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(orgkb_command("eval", *args), capture_output=True, text=True, env=subprocess_env(), timeout=600)


def _independent_metrics(run_file: Path, qrels_file: Path) -> dict[str, float]:
    """nDCG@10, recall@10/100 and MRR@10 written out again from their definitions, from the TREC run file."""
    qrels: dict[str, dict[str, int]] = {}
    for line in qrels_file.read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc, grade = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(grade)
    ranked: dict[str, list[tuple[int, str]]] = {}
    for line in run_file.read_text(encoding="utf-8").splitlines():
        qid, _, doc, rank, _, _ = line.split()
        ranked.setdefault(qid, []).append((int(rank), doc))
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for qid, grades in qrels.items():
        docs = [doc for _, doc in sorted(ranked.get(qid, []))]
        relevant = {d for d, g in grades.items() if g > 0}
        gained = sum(grades.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(docs[:10]))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(grades.values(), reverse=True)[:10]))
        totals["ndcg@10"] += gained / ideal
        totals["recall@10"] += len(relevant & set(docs[:10])) / len(relevant)
        totals["recall@100"] += len(relevant & set(docs[:100])) / len(relevant)
        totals["mrr@10"] += next((1 / (i + 1) for i, doc in enumerate(docs[:10]) if doc in relevant), 0.0)
    return {name: value / len(qrels) for name, value in totals.items()}


def test_eval_prints_metrics_that_match_an_independent_computation(dataset: Path, tmp_path: Path) -> None:
    data_dir, run_file = tmp_path / "index", tmp_path / "run.txt"
    result = _eval("--dataset", str(dataset), "--json", "--data-dir", str(data_dir), "--save-run", str(run_file))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = _independent_metrics(run_file, dataset / "qrels" / "test.tsv")
    for name, value in expected.items():
        assert report[name] == pytest.approx(value, abs=1e-4), name
    queries = len((dataset / "queries.jsonl").read_text().splitlines())
    assert report["queries"] == queries and report["mode"] == "hybrid"
    # The corpus is smaller than 100 documents and the vector index ranks all of them: nothing can be missed.
    assert report["recall@100"] == 1.0
    # Meaningful retrieval, far above the chance level of a few relevant documents among ~20-40.
    assert report["ndcg@10"] > 0.5
    assert report["index_chunks_per_s"] > 0 and report["index_reused"] is False
    assert report["documents"] == len((dataset / "corpus.jsonl").read_text().splitlines())
    assert 0 < report["latency_p50_ms"] <= report["latency_p95_ms"]
    assert report["peak_rss_mb"] > 100

    # Re-running on the kept index embeds nothing; another mode scores the first judged queries.
    again = _eval("--dataset", str(dataset), "--data-dir", str(data_dir), "--mode", "keyword", "--limit-queries", "3")
    assert again.returncode == 0, again.stderr
    assert "index reused" in again.stdout and "keyword" in again.stdout
    assert re.search(r"queries\s*│\s*3\s*│", again.stdout), again.stdout
    assert f"{report['index_chunks_per_s']:.1f} chunks/s" in again.stdout


def test_own_dataset_is_valid_beir_with_graded_judgments(tmp_path: Path) -> None:
    dataset = load_beir(_own_dataset(tmp_path / "own"), "test")
    assert len(dataset.queries) == 10
    assert dataset.qrels["q3"] == {"d3": 2, "n3": 1}


def test_eval_reports_a_missing_split_in_one_line(dataset: Path) -> None:
    result = _eval("--dataset", str(dataset), "--split", "dev")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no split 'dev'" in result.stderr and "available: test" in result.stderr
