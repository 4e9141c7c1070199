"""Fit the relevance calibration (server/search/relevance.py) on a judged BEIR split, report on another.

    python scripts/calibrate_relevance.py --dataset /work/shared/data/scifact \
        --data-dir /tmp/issue10-scifact --fit train --report test

The index in --data-dir must already hold the corpus (`orgkb eval ... --data-dir` builds it).
For every query the first --depth hits are taken (one per document, no floor); a hit is a
positive when the split judges its document relevant. Each query is also scored as if its
answer were not indexed (its relevant documents taken out of the candidates), all negatives:
SciFact has no unanswerable queries, and "nothing relevant" must be learnt from somewhere. A logistic regression per search mode
(Newton's method, no extra dependency) maps the hit's rank score and the query's absolute
signals to a probability. It prints the weights to paste into CALIBRATIONS and, on the report
split, the Brier score, the expected calibration error and how often the best hit of a query
is relevant at each relevance level.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from orgkb.server.config import OrgkbConfig  # noqa: E402
from orgkb.server.eval.benchmark import eval_config, load_beir  # noqa: E402
from orgkb.server.index.knowledge import KnowledgeIndex  # noqa: E402
from orgkb.server.search.relevance import CALIBRATIONS, Calibration, QuerySignals, query_signals, relevance  # noqa: E402
from orgkb.server.search.searcher import Searcher, query_terms  # noqa: E402

MODES = ("hybrid", "semantic", "keyword")


def features(mode: str, score: float, signals: QuerySignals, terms: int) -> list[float]:
    """The model's inputs, in Calibration field order (rank, cosine, bm25)."""
    rank = score / max(1, terms) if mode == "keyword" else score
    return [rank, signals.best_cosine if mode != "keyword" else 0.0, signals.best_bm25 if mode != "semantic" else 0.0]


def collect(dataset_dir: Path, split: str, data_dir: Path, mode: str, depth: int) -> list[tuple[str, list[float], int]]:
    """``(query id, features, label)`` for the first ``depth`` hits of every judged query."""
    dataset = load_beir(dataset_dir, split)
    config = eval_config(OrgkbConfig(), dataset, data_dir)
    index = KnowledgeIndex(config)
    searcher = Searcher(index)
    source = config.sources[0].name
    rows: list[tuple[str, list[float], int]] = []
    for qid, text in dataset.queries.items():
        response = searcher.search(text, limit=depth, mode=mode, max_chunks_per_document=1, rerank=False, min_relevance=0.0)
        assert response.signals is not None
        terms = query_terms(text)
        judged = dataset.qrels[qid]
        relevant = {f"{source}:{doc}" for doc, grade in judged.items() if grade > 0}
        for hit in response.hits:
            rows.append((qid, features(mode, hit.score, response.signals, terms), int(hit.doc_id in relevant)))
        # The same query as if its answer were not indexed: the relevant documents taken out of
        # the candidates. SciFact has no unanswerable queries, and without these a model cannot
        # learn that a weak best match means "nothing relevant".
        assert response.evidence is not None
        absent = query_signals(
            [v for d, v in response.evidence["cosine"].items() if d not in relevant],
            [v for d, v in response.evidence["bm25"].items() if d not in relevant],
            terms,
        )
        for hit in [h for h in response.hits if h.doc_id not in relevant]:
            rows.append((f"{qid}-unanswerable", features(mode, hit.score, absent, terms), 0))
    index.catalog.close()
    return rows


def fit(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """Logistic regression weights (last one the bias) by Newton's method."""
    design = np.hstack([x, np.ones((len(x), 1))])
    weights = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ weights))
        gradient = design.T @ (p - y) + ridge * weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def report(mode: str, rows: list[tuple[str, list[float], int]], calibration: Calibration) -> dict[str, float]:
    """Brier score, expected calibration error (10 bins), and top-1 precision per relevance band."""
    probs = np.array([relevance(mode, r[1][0], QuerySignals(r[1][1], r[1][2])) for r in rows])  # type: ignore[arg-type]
    labels = np.array([r[2] for r in rows])
    bins = np.minimum((probs * 10).astype(int), 9)
    ece = sum(abs(probs[bins == b].mean() - labels[bins == b].mean()) * (bins == b).sum() for b in range(10) if (bins == b).any())
    first: dict[str, tuple[float, int]] = {}
    for (qid, _, label), p in zip(rows, probs, strict=True):
        first.setdefault(qid, (float(p), label))
    tops = np.array(list(first.values()))
    bands = {}
    for low in (0.0, 0.3, 0.5, 0.7):
        chosen = tops[tops[:, 0] >= low]
        bands[f"top1_precision@rel>={low}"] = round(float(chosen[:, 1].mean()), 3) if len(chosen) else None
        bands[f"queries@rel>={low}"] = int(len(chosen))
    unanswerable = [p for qid, (p, _) in first.items() if qid.endswith("-unanswerable")]
    answered = [p for qid, (p, label) in first.items() if not qid.endswith("-unanswerable") and label]
    bands["unanswerable_flagged@0.5"] = round(sum(p < 0.5 for p in unanswerable) / max(1, len(unanswerable)), 3)
    bands["relevant_top1_kept@0.5"] = round(sum(p >= 0.5 for p in answered) / max(1, len(answered)), 3)
    return {"hits": len(rows), "brier": round(float(((probs - labels) ** 2).mean()), 4),
            "ece": round(float(ece / len(rows)), 4), **bands}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--fit", default="train")
    parser.add_argument("--report", default="test")
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    args = parser.parse_args()
    out: dict[str, object] = {}
    for mode in args.modes:
        rows = collect(args.dataset, args.fit, args.data_dir, mode, args.depth)
        x = np.array([r[1] for r in rows])
        y = np.array([r[2] for r in rows], dtype=float)
        used = [i for i in range(3) if x[:, i].std() > 0]
        weights = np.zeros(4)
        weights[[*used, 3]] = fit(x[:, used], y)
        fitted = Calibration(*(round(float(w), 3) for w in weights))
        CALIBRATIONS[mode] = fitted
        held_out = collect(args.dataset, args.report, args.data_dir, mode, args.depth)
        out[mode] = {"calibration": fitted._asdict(), f"{args.fit}": report(mode, rows, fitted),
                     f"{args.report}": report(mode, held_out, fitted)}
        print(json.dumps({mode: out[mode]}), flush=True)


if __name__ == "__main__":
    main()
