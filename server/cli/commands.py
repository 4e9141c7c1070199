"""Handlers of the `orgkb` subcommands (index, search, serve, status)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from orgkb.connectors.base import ConnectorError, ConnectorRegistry
from orgkb.server.cli.main import command, print_json, quiet_model_loading
from orgkb.server.config import OrgkbConfig
from orgkb.server.errors import OrgkbError
from orgkb.server.search.filters import SearchFilters
from orgkb.server.index.indexer import Indexer, IndexSummary, SourceSummary
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.app.service import KnowledgeService

# Human-readable output goes to stderr so stdout stays clean for --json and for pipes.
# Pipes and CI logs get a width that fits the summary table instead of 80 columns.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


class RichProgress:
    """Shows a live line per source while indexing."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, int] = {}

    def start_source(self, source: str) -> None:
        self.tasks[source] = self.progress.add_task(source, total=None, detail="listing")

    def advance(self, source: str, documents: int, detail: str) -> None:
        self.progress.update(self.tasks[source], advance=documents, detail=detail[-60:])

    def end_source(self, summary: SourceSummary) -> None:
        detail = f"[red]failed: {summary.error}" if summary.error else "[green]done"
        task = self.tasks[summary.source]
        done = self.progress.tasks[task].completed
        self.progress.update(task, total=done or 1, completed=done or 1, detail=detail)


def _index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", "-s", action="append", help="only this source (repeatable)")
    parser.add_argument("--full", action="store_true", help="re-read everything and reconcile deletions")


@command("index", "build or update the index from the configured sources", _index_arguments)
def index_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Sync sources into the index and print a summary."""
    quiet_model_loading()
    if not config.sources:
        console.print("[yellow]No sources configured: add [[sources]] entries to the config file.")
        return 2
    index = KnowledgeIndex(config)
    columns = [SpinnerColumn(), TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.completed:>6.0f} docs"),
               TimeElapsedColumn(), TextColumn("{task.fields[detail]}", style="dim")]
    with Progress(*columns, console=console, transient=False) as progress:
        summary = Indexer(index, progress=RichProgress(progress)).run(args.source, full=args.full)
    print_summary(summary)
    return 0 if summary.ok else 1


def print_summary(summary: IndexSummary) -> None:
    """A table of what each source did, then every failure."""
    table = Table(title="Index summary")
    table.add_column("source", overflow="fold", min_width=12)
    for column in ("added", "updated", "same", "deleted", "failed", "skipped", "chunks", "secs"):
        table.add_column(column, justify="right")
    for s in summary.sources:
        table.add_row(s.source, str(s.added), str(s.updated), str(s.unchanged), str(s.deleted), str(s.failed),
                      str(s.skipped), str(s.chunks_embedded), f"{s.seconds:.1f}")
    console.print(table)
    for s in summary.sources:
        if s.error:
            console.print(f"[red]{s.source}: not synced: {s.error}")
        for failure in s.failures:
            style = "dim" if failure.skipped else "yellow"
            console.print(f"[{style}]{s.source}: {failure.key}: {failure.message}", highlight=False)


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query")
    parser.add_argument("--limit", "-n", type=int, default=None)
    parser.add_argument("--mode", choices=["hybrid", "semantic", "keyword"], default="hybrid")
    parser.add_argument("--source", "-s", action="append", help="only this source (repeatable)")
    parser.add_argument("--path-prefix")
    parser.add_argument("--type", action="append", dest="file_types", help="only this file type (repeatable)")
    parser.add_argument("--modified-after", help="only documents modified at/after this ISO date or time")
    parser.add_argument("--modified-before", help="only documents modified before this ISO date or time")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata equality (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the hits as one JSON object")


def _metadata_pairs(pairs: list[str]) -> dict[str, str] | None:
    """``["dept=HR"]`` as ``{"dept": "HR"}``."""
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OrgkbError(f"--meta takes KEY=VALUE, not {pair!r}")
        metadata[key.strip()] = value.strip()
    return metadata or None


@command("search", "search the index and print cited passages", _search_arguments)
def search_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Search and print cited hits (or JSON)."""
    quiet_model_loading()
    service = KnowledgeService(KnowledgeIndex(config))
    try:
        filters = SearchFilters(
            sources=args.source,
            path_prefix=args.path_prefix,
            file_types=args.file_types,
            modified_after=args.modified_after,
            modified_before=args.modified_before,
            metadata=_metadata_pairs(args.meta),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise OrgkbError(f"invalid filter {'.'.join(str(p) for p in error['loc'])}: {error['msg']}") from None
    response = service.searcher.search(
        args.query, limit=args.limit, mode=args.mode, filters=filters, min_relevance=config.search.min_relevance
    )
    if args.json:
        print_json(response.model_dump(mode="json"))
        return 0
    out = Console(soft_wrap=True)
    if not response.hits:
        out.print(f"No results for {args.query!r}.")
        return 0
    if response.outcome == "no_good_match":
        out.print(f"Nothing relevant found for {args.query!r}; the closest weak candidates:")
    for number, hit in enumerate(response.hits, start=1):
        out.print(f"[bold][{number}] {escape(hit.label)}[/bold]  [dim]relevance {hit.relevance:.2f}[/dim]", highlight=False)
        where = hit.location.label()
        out.print(f"    [cyan]{escape(hit.uri)}[/cyan]{f'  ({where})' if where else ''}", highlight=False)
        text = hit.text if len(hit.text) <= 600 else hit.text[:600].rstrip() + " …"
        out.print("    " + text.replace("\n", "\n    "), highlight=False, markup=False)
        out.print()
    return 0


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="stdio (default) or Streamable HTTP")
    parser.add_argument("--host", help="HTTP address to bind (default: [server.http] host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default: [server.http] port, 8765; 0 picks a free one)")
    parser.add_argument("--read-only", action="store_true", help="leave out tools that change the index (reindex)")
    parser.add_argument("--no-sync", action="store_true", help="do not sync or watch sources while serving")
    parser.add_argument("--no-warm-up", action="store_true", help="load the model on first use instead of at start")


@command("serve", "run the MCP server (stdio by default, or --transport http)", _serve_arguments)
def serve_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Run the MCP server; it keeps the index in sync with the sources while it runs."""
    quiet_model_loading()
    from orgkb.server.mcp.serving import serve

    serve(
        config,
        transport=args.transport,
        host=args.host,
        port=args.port,
        read_only=args.read_only,
        live_sync=not args.no_sync,
        warm_up=not args.no_warm_up,
    )
    return 0


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


@command("status", "show what is indexed, per source", _status_arguments)
def status_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Print per-source document counts, last sync and failures."""
    sources = KnowledgeService(KnowledgeIndex(config)).list_sources()
    if args.json:
        print_json(sources.model_dump(mode="json"))
        return 0
    out = Console()
    table = Table(title=f"orgkb index at {config.data_dir}")
    for column in ("source", "type", "documents", "chunks", "last sync", "failures", "error"):
        table.add_column(column)
    for s in sources.sources:
        last = s.last_sync.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if s.last_sync else "never"
        failures = sum(1 for f in s.failures if not f.skipped)
        table.add_row(s.name, s.type, str(s.documents), str(s.chunks), last, str(failures), s.last_error or "")
    out.print(table)
    return 0


@command("check", "check that every source is reachable and its credentials work")
def check_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Run each connector's check; one line per source: ok, warnings, or the error."""
    out = Console(soft_wrap=True)
    failed = False
    for source in config.sources:
        try:
            warnings = ConnectorRegistry.build(source).check()
        except ConnectorError as exc:
            failed = True
            # Connector messages usually start with the source name already.
            message = str(exc).removeprefix(f"{source.name}: ")
            out.print(f"[red]✗ {escape(source.name)}[/red]: {escape(message)}", highlight=False)
            continue
        out.print(f"[green]✓ {escape(source.name)}[/green] ({source.type})", highlight=False)
        for warning in warnings or []:
            out.print(f"  [yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    return 1 if failed else 0
