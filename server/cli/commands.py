"""Handlers of the `orgkb` subcommands (index, search, serve, status, check).

Arguments follow the MCP tools' rules (the same limits, "unknown source" for a source that is
not configured) and every mistake is one line on stderr with a non-zero exit.
"""

from __future__ import annotations

import argparse
import functools
import sys
from datetime import UTC, datetime


from typing import TYPE_CHECKING

from orgkb.connectors.base import ConnectorError
from orgkb.connectors.registry import open_connector
from orgkb.server.app.health import Health, HealthMonitor
from orgkb.server.app.service import OrgkbService
from orgkb.server.cli.principals import access_for, add_group_arguments
from orgkb.server.cli.registry import command, print_json, quiet_model_loading
from orgkb.server.config import OrgkbConfig, empty_config, find_config_path, load_config
from orgkb.server.errors import ConfigError, InvalidArgumentError, OrgkbError
from orgkb.server.index.indexer import IndexSummary, SourceSummary
from orgkb.server.index.knowledge import KnowledgeIndex

# The search tool's bound on a query (server/mcp/app.py), applied to the command line too.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

MAX_QUERY_CHARS = 2000

# Human-readable output goes to stderr so stdout stays clean for --json and for pipes.
# Pipes and CI logs get a width that fits the summary table instead of 80 columns.
@functools.cache
def stderr_console() -> Console:
    """Human-readable output on stderr, so stdout stays clean for --json and for pipes.

    Pipes and CI logs get a width that fits the summary table instead of 80 columns. rich is
    imported here, not at start-up: `orgkb serve` never prints a table.
    """
    from rich.console import Console

    return Console(stderr=True, width=None if sys.stderr.isatty() else 120)


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
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    quiet_model_loading()
    for unavailable in config.unavailable_sources:
        stderr_console().print(f"[red]{escape(unavailable.name)}: disabled: {escape(unavailable.reason)}", highlight=False)
    _refuse_disabled(config, args.source)
    if not config.sources:
        if not config.unavailable_sources:
            stderr_console().print("[yellow]No sources configured: add [[sources]] entries to the config file.")
        return 2
    local = OrgkbService.from_config(config).local()
    columns = [SpinnerColumn(), TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.completed:>6.0f} docs"),
               TimeElapsedColumn(), TextColumn("{task.fields[detail]}", style="dim")]
    with Progress(*columns, console=stderr_console(), transient=False) as progress:
        summary = local.reindex(args.source, full=args.full, progress=RichProgress(progress))
    print_summary(summary)
    return 0 if summary.ok and not config.unavailable_sources else 1


def _refuse_disabled(config: OrgkbConfig, requested: list[str] | None) -> None:
    """A source the config names but that is disabled (its folder is missing...) is an error to ask for."""
    disabled = {u.name: u.reason for u in config.unavailable_sources}
    for name in requested or []:
        if name in disabled:
            raise OrgkbError(f"source {name!r} is disabled: {disabled[name]}")


def print_summary(summary: IndexSummary) -> None:
    """A table of what each source did, then every failure."""
    from rich.table import Table

    table = Table(title="Index summary")
    table.add_column("source", overflow="fold", min_width=12)
    for column in ("added", "updated", "same", "deleted", "failed", "skipped", "chunks", "secs"):
        table.add_column(column, justify="right")
    for s in summary.sources:
        table.add_row(s.source, str(s.added), str(s.updated), str(s.unchanged), str(s.deleted), str(s.failed),
                      str(s.skipped), str(s.chunks_embedded), f"{s.seconds:.1f}")
    stderr_console().print(table)
    for s in summary.sources:
        if s.error:
            stderr_console().print(f"[red]{s.source}: not synced: {s.error}")
        for failure in s.failures:
            style = "dim" if failure.skipped else "yellow"
            stderr_console().print(f"[{style}]{s.source}: {failure.key}: {failure.message}", highlight=False)


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
    parser.add_argument("--as", dest="as_user", metavar="USER", help="show what this user would get (admins checking permissions)")
    add_group_arguments(parser)


def _metadata_pairs(pairs: list[str]) -> dict[str, str] | None:
    """``["dept=HR"]`` as ``{"dept": "HR"}``."""
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OrgkbError(f"--meta takes KEY=VALUE, not {pair!r}")
        metadata[key.strip()] = value.strip()
    return metadata or None


def _datetime_argument(flag: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or time from the command line; a one-line error otherwise."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        name = flag.lstrip("-").replace("-", "_")
        raise InvalidArgumentError(f"invalid filter {name}: not an ISO 8601 date or time: {value!r} (e.g. 2026-03-01)") from None


@command("search", "search the index and print cited passages", _search_arguments)
def search_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Search and print cited hits (or JSON)."""
    from rich.console import Console
    from rich.markup import escape

    quiet_model_loading()
    if not 1 <= len(args.query) <= MAX_QUERY_CHARS:
        raise OrgkbError(f"the query must have 1 to {MAX_QUERY_CHARS} characters, not {len(args.query)}")
    limit = config.search.default_limit if args.limit is None else args.limit
    if not 1 <= limit <= config.search.max_limit:
        raise OrgkbError(f"--limit must be between 1 and {config.search.max_limit} (search.max_limit), not {limit}")
    _refuse_disabled(config, args.source)
    if args.groups is not None and args.as_user is None:
        raise OrgkbError("--groups needs --as USER")
    service = OrgkbService.from_config(config)
    # --as: the same view a caller with that principal gets, so the same documents are hidden.
    caller = access_for(config, args.as_user, args.groups) if args.as_user is not None else None
    view = service.for_caller(caller) if caller is not None else service.local()
    response = view.search(
        args.query,
        limit=limit,
        mode=args.mode,
        sources=args.source,
        path_prefix=args.path_prefix,
        file_types=args.file_types,
        modified_after=_datetime_argument("--modified-after", args.modified_after),
        modified_before=_datetime_argument("--modified-before", args.modified_before),
        metadata=_metadata_pairs(args.meta),
        min_relevance=config.search.min_relevance,
    )
    problems = _health(config, args).problems
    if args.json:
        shown_as = caller.principal.model_dump(mode="json") if caller is not None and caller.principal else None
        print_json({**response.model_dump(mode="json"), "problems": [p.model_dump() for p in problems], "as": shown_as})
        return 0
    if caller is not None and caller.principal is not None:
        who = caller.principal
        groups = ", ".join(sorted(who.groups)) or "no groups"
        stderr_console().print(f"As {escape(who.user)} ({escape(groups)}{', admin' if who.admin else ''}):", highlight=False)
    for problem in problems:
        stderr_console().print(f"[yellow]{escape(problem.line())}", highlight=False, soft_wrap=True)
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


@command("serve", "run the MCP server (stdio by default, or --transport http)", _serve_arguments, config="handler")
def serve_command(args: argparse.Namespace, _config: None) -> int:
    """Run the MCP server; it keeps the index in sync with the sources while it runs.

    A config that cannot be used does not stop it: it starts and tells the client what to fix.
    """
    quiet_model_loading()
    from orgkb.server.mcp.serving import serve

    config_error = None
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        config, config_error = empty_config(), str(exc)
        print(f"orgkb: {exc}", file=sys.stderr)
    config_path = find_config_path(args.config)
    serve(
        config,
        config_error=config_error,
        config_path=str(config_path) if config_path else None,
        transport=args.transport,
        host=args.host,
        port=args.port,
        read_only=args.read_only,
        live_sync=not args.no_sync,
        warm_up=not args.no_warm_up,
    )
    return 0


def _json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _health(config: OrgkbConfig, args: argparse.Namespace) -> Health:
    path = find_config_path(args.config)
    index = KnowledgeIndex(config)
    monitor = HealthMonitor(config, lambda: index.catalog, config_path=str(path) if path else None, can_reindex=False)
    return monitor.current


@command("status", "show what is indexed, per source, and what is wrong", _json_argument)
def status_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Print per-source document counts, last sync and failures, then every problem with its fix."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    sources = OrgkbService.from_config(config).local().list_sources()
    health = _health(config, args)
    if args.json:
        print_json({**sources.model_dump(mode="json"), "problems": [p.model_dump() for p in health.problems]})
        return 0
    out = Console(soft_wrap=False)
    table = Table(title=f"orgkb index at {config.data_dir}", title_justify="left")
    # Folded, never cut: a long source name or error wraps inside its cell at any width.
    for column in ("source", "type", "documents", "chunks", "last sync", "failures", "error"):
        table.add_column(column, overflow="fold")
    for s in sources.sources:
        last = s.last_sync.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if s.last_sync else "never"
        failures = sum(1 for f in s.failures if not f.skipped)
        error = f"disabled: {s.disabled}" if s.disabled else s.last_error or ""
        table.add_row(escape(s.name), s.type, str(s.documents), str(s.chunks), last, str(failures), escape(error))
    if out.measure(table, options=out.options.update_width(10_000)).maximum <= out.width:
        out.print(table)
    else:
        # Too narrow for the table (or a pipe's 80 columns): one line per source, wrapped, never cut.
        out.print(f"orgkb index at {escape(str(config.data_dir))}", highlight=False)
        for s in sources.sources:
            last = s.last_sync.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if s.last_sync else "never"
            error = f"disabled: {s.disabled}" if s.disabled else s.last_error
            line = f"{s.name} ({s.type}): {s.documents} documents, {s.chunks} chunks, last sync {last}"
            failures = sum(1 for f in s.failures if not f.skipped)
            line += f", {failures} failures" if failures else ""
            out.print(escape(line + (f"; error: {error}" if error else "")), highlight=False, soft_wrap=True)
    for problem in health.problems:
        out.print(f"[yellow]! {escape(problem.line())}", highlight=False, soft_wrap=True)
    return 0


@command("check", "check that every source is reachable and its credentials work", _json_argument)
def check_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Run each connector's check; one line per source: ok, warnings, or the error."""
    from rich.console import Console
    from rich.markup import escape

    results: list[dict[str, object]] = [
        {"source": u.name, "type": u.type, "ok": False, "error": f"disabled: {u.reason}", "warnings": []}
        for u in config.unavailable_sources
    ]
    for source in config.sources:
        try:
            with open_connector(source) as connector:
                warnings = connector.check()
        except ConnectorError as exc:
            # Connector messages usually start with the source name already.
            message = str(exc).removeprefix(f"{source.name}: ")
            results.append({"source": source.name, "type": source.type, "ok": False, "error": message, "warnings": []})
            continue
        results.append({"source": source.name, "type": source.type, "ok": True, "error": None, "warnings": warnings or []})
    failed = any(not r["ok"] for r in results)
    if args.json:
        print_json({"sources": results})
        return 1 if failed else 0
    out = Console(soft_wrap=True)
    for r in results:
        if not r["ok"]:
            out.print(f"[red]✗ {escape(str(r['source']))}[/red]: {escape(str(r['error']))}", highlight=False)
            continue
        out.print(f"[green]✓ {escape(str(r['source']))}[/green] ({r['type']})", highlight=False)
        for warning in r["warnings"]:  # type: ignore[attr-defined]
            out.print(f"  [yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    return 1 if failed else 0
