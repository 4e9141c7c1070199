"""Measuring retrieval on a BEIR-layout data set through the product's own path.

The corpus is indexed by the `jsonl` connector and the `Indexer`, and every query runs through
`Searcher.search`, the function behind the MCP `search` tool: the figures are what users get,
chunking, fusion and per-document grouping included.

A BEIR directory holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id  corpus-id  score``, with a header).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orgkb.connectors.jsonl import JsonlConfig
from orgkb.server.config import OrgkbConfig, StoreConfig
from orgkb.server.errors import OrgkbError
from orgkb.server.index.indexer import Indexer, Progress
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.eval.metrics import evaluate, percentile
from orgkb.server.search.searcher import Searcher, SearchMode

DEPTH = 100  # Recall@100 needs a hundred documents per query
INDEX_STATS_FILE = "orgkb-eval-index.json"


class BeirDataset(BaseModel):
    """A BEIR data set's queries and judgments for one split (the corpus stays on disk)."""

    directory: Path
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def corpus(self) -> Path:
        return self.directory / "corpus.jsonl"


class EvalReport(BaseModel):
    """What ``orgkb eval`` prints; ``--json`` prints exactly these keys."""

    model_config = ConfigDict(populate_by_name=True)

    dataset: str
    split: str
    mode: SearchMode
    queries: int
    ndcg_10: float = Field(alias="ndcg@10")
    recall_10: float = Field(alias="recall@10")
    recall_100: float = Field(alias="recall@100")
    mrr_10: float = Field(alias="mrr@10")
    latency_p50_ms: float
    latency_p95_ms: float
    index_chunks_per_s: float | None = Field(description="Chunks embedded per second while indexing; None if unknown.")
    index_reused: bool = Field(description="True when the index was already up to date (nothing embedded this run).")
    documents: int
    chunks: int
    index_seconds: float
    peak_rss_mb: float
    fusion: str
    reranker: str | None = None
    notices: list[str] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report with its metric names as printed (``ndcg@10``...)."""
        return self.model_dump(by_alias=True)


def load_beir(directory: Path, split: str) -> BeirDataset:
    """Read a BEIR data set's queries and ``qrels/<split>.tsv``; `OrgkbError` names what is missing."""
    directory = directory.expanduser().resolve()
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (directory / name).is_file():
            raise OrgkbError(f"{directory} is not a BEIR data set: {name} is missing")
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))
        raise OrgkbError(f"no split {split!r} in {directory} (qrels/{split}.tsv); available: {', '.join(splits) or 'none'}")
    qrels = _read_qrels(qrels_path)
    queries: dict[str, str] = {}
    with (directory / "queries.jsonl").open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                qid, text = str(record["_id"]), str(record["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise OrgkbError(f"queries.jsonl line {number}: expected {{\"_id\", \"text\"}}: {exc}") from None
            if qid in qrels:
                queries[qid] = text
    missing = [qid for qid in qrels if qid not in queries]
    if missing:
        raise OrgkbError(f"{len(missing)} judged queries are not in queries.jsonl (first: {missing[0]!r})")
    return BeirDataset(directory=directory, split=split, queries=queries, qrels=qrels)


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or (number == 1 and not _is_int(parts[-1])):
                continue  # blank, or the "query-id corpus-id score" header
            if len(parts) != 3 or not _is_int(parts[2]):
                raise OrgkbError(f"{path.name} line {number}: expected 'query-id<TAB>corpus-id<TAB>score'")
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    if not qrels:
        raise OrgkbError(f"{path} has no judgments")
    return qrels


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+", text.strip()))


def eval_config(base: OrgkbConfig, dataset: BeirDataset, data_dir: Path) -> OrgkbConfig:
    """The user's embedding, chunking and search settings over one `jsonl` source of the corpus.

    The vectors always go to an embedded Chroma in ``data_dir``: a benchmark must never write
    into the collection of a configured Chroma server.
    """
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", dataset.directory.name).strip("-.") or "corpus"
    source = JsonlConfig(name=name if name[0].isalnum() else f"c{name}", paths=[str(dataset.corpus)])
    search = base.search.model_copy(update={"max_limit": max(base.search.max_limit, DEPTH)})
    return base.model_copy(
        update={"data_dir": data_dir, "store": StoreConfig(), "search": search, "sources": [source]}
    )


@contextmanager
def data_directory(path: Path | None) -> Iterator[Path]:
    """``path`` (kept, so a later run reuses its index) or a temporary directory removed afterwards."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path.resolve()
        return
    with TemporaryDirectory(prefix="orgkb-eval-") as temporary:
        yield Path(temporary)


QueryProgress = Callable[[int, int], None]


def run_eval(
    base: OrgkbConfig,
    dataset: BeirDataset,
    *,
    mode: SearchMode = "hybrid",
    data_dir: Path | None = None,
    limit_queries: int | None = None,
    rerank: bool = True,
    progress: Progress | None = None,
    on_query: QueryProgress | None = None,
    run_file: Path | None = None,
) -> EvalReport:
    """Index the corpus (incrementally), run the split's queries, and measure."""
    query_ids = list(dataset.qrels)[:limit_queries] if limit_queries else list(dataset.qrels)
    with data_directory(data_dir) as directory:
        config = eval_config(base, dataset, directory)
        index = KnowledgeIndex(config)
        try:
            summary = Indexer(index, progress=progress).run()
            source = summary.sources[0]
            if source.error:
                raise OrgkbError(f"indexing {dataset.corpus} failed: {source.error}")
            speed, seconds, reused = _index_speed(directory, source.chunks_embedded, source.seconds)
            counts = index.catalog.counts().get(source.source, (0, 0))
            searcher = Searcher(index)
            prefix = f"{source.source}:"
            # Warm-up: the first query loads the model and opens the store; it is not timed.
            # No relevance floor (min_relevance=0): the benchmark scores the whole ranking.
            searcher.search(
                dataset.queries[query_ids[0]], limit=DEPTH, mode=mode, max_chunks_per_document=1, rerank=rerank,
                min_relevance=0.0,
            )
            runs: dict[str, list[str]] = {}
            latencies: list[float] = []
            notices: list[str] = []
            reranker: str | None = None
            for number, qid in enumerate(query_ids, start=1):
                started = time.perf_counter()
                response = searcher.search(
                    dataset.queries[qid], limit=DEPTH, mode=mode, max_chunks_per_document=1, rerank=rerank,
                    min_relevance=0.0,
                )
                latencies.append((time.perf_counter() - started) * 1000)
                runs[qid] = [hit.doc_id.removeprefix(prefix) for hit in response.hits]
                reranker = reranker or response.reranked_by
                notices.extend(n for n in response.notices if n not in notices)
                if on_query is not None:
                    on_query(number, len(query_ids))
        finally:
            index.close()
    if run_file is not None:
        write_run(run_file, runs)
    metrics = evaluate(runs, {qid: dataset.qrels[qid] for qid in query_ids})
    return EvalReport(
        dataset=str(dataset.directory),
        split=dataset.split,
        mode=mode,
        queries=len(query_ids),
        **{name: round(value, 4) for name, value in metrics.items()},
        latency_p50_ms=round(percentile(latencies, 50), 2),
        latency_p95_ms=round(percentile(latencies, 95), 2),
        index_chunks_per_s=speed,
        index_reused=reused,
        documents=counts[0],
        chunks=counts[1],
        index_seconds=seconds,
        peak_rss_mb=_peak_rss_mb(),
        fusion=config.search.fusion if mode == "hybrid" else "none",
        reranker=reranker,
        notices=notices,
    )


def _index_speed(directory: Path, chunks: int, seconds: float) -> tuple[float | None, float, bool]:
    """``(chunks/s, seconds, reused)``: this run's figures, or the stored ones of the run that built the index."""
    stats = directory / INDEX_STATS_FILE
    if chunks > 0:
        stats.write_text(json.dumps({"chunks": chunks, "seconds": seconds}), encoding="utf-8")
        return round(chunks / seconds, 2) if seconds > 0 else None, round(seconds, 2), False
    try:
        stored = json.loads(stats.read_text(encoding="utf-8"))
        return round(stored["chunks"] / stored["seconds"], 2), round(stored["seconds"], 2), True
    except (OSError, ValueError, KeyError, ZeroDivisionError):
        return None, round(seconds, 2), True


def write_run(path: Path, runs: dict[str, list[str]]) -> None:
    """The rankings in TREC run format (``qid Q0 doc rank score tag``), for trec_eval or a cross-check.

    The score column is ``1/rank``: trec_eval orders by score, and reranked and fused scores
    are on different scales, so the rank itself is what must survive.
    """
    with path.open("w", encoding="utf-8") as handle:
        for qid, ranking in runs.items():
            for rank, doc in enumerate(ranking, start=1):
                handle.write(f"{qid} Q0 {doc} {rank} {1 / rank:.6f} orgkb\n")


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB (0 where the OS has no `resource` module: Windows)."""
    try:
        import resource
    except ImportError:
        return 0.0
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
