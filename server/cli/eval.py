"""`orgkb eval`: retrieval quality and speed on a BEIR-layout data set, through the product path."""

from __future__ import annotations

import argparse
from pathlib import Path


from orgkb.server.eval.benchmark import EvalReport, load_beir, run_eval
from orgkb.server.cli.registry import command, print_json, quiet_model_loading
from orgkb.server.cli.commands import RichProgress, stderr_console
from orgkb.server.config import OrgkbConfig



def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, type=Path, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    parser.add_argument("--split", default="test", help="which qrels/SPLIT.tsv to score (default: test)")
    parser.add_argument("--mode", choices=["hybrid", "semantic", "keyword"], default="hybrid")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--limit-queries", type=int, metavar="N", help="score only the first N judged queries")
    parser.add_argument(
        "--data-dir", type=Path, help="keep the index here and reuse it next time (default: a temporary folder)"
    )
    parser.add_argument("--no-rerank", action="store_true", help="skip the configured reranker (to measure its gain)")
    parser.add_argument("--save-run", type=Path, metavar="FILE", help="also write the rankings in TREC run format")


@command("eval", "measure search quality and speed on a BEIR data set", _eval_arguments, config="optional")
def eval_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Index the corpus through the connector pipeline, run every query through search, print figures."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    quiet_model_loading()
    if args.limit_queries is not None and args.limit_queries < 1:
        stderr_console().print("[red]--limit-queries must be at least 1")
        return 2
    dataset = load_beir(args.dataset, args.split)
    columns = [SpinnerColumn(), TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=stderr_console(), transient=True) as progress:
        queries = progress.add_task("queries", total=None, visible=False)

        def on_query(done: int, total: int) -> None:
            progress.update(queries, completed=done, total=total, visible=True)

        report = run_eval(
            config,
            dataset,
            mode=args.mode,
            data_dir=args.data_dir,
            limit_queries=args.limit_queries,
            rerank=not args.no_rerank,
            progress=_IndexProgress(progress),
            on_query=on_query,
            run_file=args.save_run,
        )
    if args.json:
        print_json(report.as_json())
    else:
        print_report(report)
    for notice in report.notices:
        stderr_console().print(f"[yellow]{notice}")
    return 0


class _IndexProgress(RichProgress):
    """Indexing progress without the document-name column (a corpus has thousands)."""

    def advance(self, source: str, documents: int, detail: str) -> None:
        super().advance(source, documents, "")


def print_report(report: EvalReport) -> None:
    """The figures as a two-column table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{Path(report.dataset).name} · {report.split} · {report.mode}", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    figures = report.as_json()
    for name in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
        table.add_row(name, f"{figures[name]:.4f}")
    table.add_row("queries", str(report.queries))
    table.add_row("latency p50 / p95", f"{report.latency_p50_ms:.1f} / {report.latency_p95_ms:.1f} ms")
    speed = f"{report.index_chunks_per_s:.1f} chunks/s" if report.index_chunks_per_s else "unknown"
    table.add_row("index throughput", speed + (" (index reused)" if report.index_reused else ""))
    table.add_row("indexed", f"{report.documents} documents, {report.chunks} chunks")
    table.add_row("peak memory (RSS)", f"{report.peak_rss_mb:.0f} MB")
    table.add_row("fusion", report.fusion)
    table.add_row("reranker", report.reranker or "none")
    Console().print(table)
