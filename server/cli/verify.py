"""`orgkb verify`: is the index consistent? Exit 0 when it is, 1 when not, 2 when it cannot tell."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


from orgkb.server.cli.registry import command, print_json, quiet_model_loading
from orgkb.server.config import OrgkbConfig
from orgkb.server.errors import OrgkbError
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.repair import repair_index
from orgkb.server.index.verify import VerifyReport, check_index, check_sources
from orgkb.server.index.writer_lock import WriterLock, exclusive_writer


def run_verify(
    index: KnowledgeIndex, *, repair: bool = False, sources: bool = False, source_names: Sequence[str] | None = None
) -> VerifyReport:
    """Check the index (and with ``sources`` the sources); with ``repair`` fix what can be
    fixed first, under the writer lock, and report the state after it.

    Without ``repair`` the writer lock is taken when free, so no sync starts midway; when
    another process holds it, differences found between the stores are confirmed once more.
    """
    if repair:
        with exclusive_writer(index.data_dir, "orgkb verify --repair"):
            found = check_index(index)
            actions = repair_index(index, found) if found.findings else []
            report = check_index(index) if actions else found
            report.repaired = actions
    else:
        lock = WriterLock(index.data_dir)
        held = lock.try_acquire("orgkb verify")
        try:
            report = check_index(index, recheck=not held)
        finally:
            lock.release()
        if not held:
            report.notes.append(f"{lock.holder()} was writing the index meanwhile; vector findings were checked twice")
    if sources:
        report.findings.extend(check_sources(index, source_names))
        report.sources_checked = True
        if any(f.is_problem and f.kind.startswith("source_") for f in report.findings):
            report.notes.append("run `orgkb index` (or the server's reindex tool) to bring the index up to date")
    return report


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repair", action="store_true",
                        help="fix what can be fixed (takes the writer lock; re-embeds missing vectors with the model)")
    parser.add_argument("--sources", action="store_true",
                        help="also compare with the sources: unindexed, removed and changed documents (reads every document)")
    parser.add_argument("--source", "-s", action="append", help="with --sources: only this source (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


@command("verify", "check that the catalog, vectors and keyword indexes agree (exit 1 when not)", _verify_arguments)
def verify_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Verify (and optionally repair) the index; print the report."""
    quiet_model_loading()
    if not (config.data_dir / "catalog.sqlite3").exists():
        raise OrgkbError(f"there is no index at {config.data_dir}: run `orgkb index` first")
    if args.source and not args.sources:
        raise OrgkbError("--source limits --sources: add --sources to compare with the sources")
    report = run_verify(KnowledgeIndex(config), repair=args.repair, sources=args.sources, source_names=args.source)
    if args.json:
        print_json(report.model_dump(mode="json"))
    else:
        print_report(report)
    return 0 if report.consistent else 1


def print_report(report: VerifyReport) -> None:
    """The report as a few readable lines."""
    from rich.console import Console
    from rich.markup import escape

    out = Console(soft_wrap=True, highlight=False)
    out.print(f"index at {escape(report.data_dir)}: {report.documents} documents, {report.chunks} chunks, "
              f"{report.vectors} vectors")
    for action in report.repaired:
        out.print(f"[cyan]repaired:[/cyan] {escape(action)}")
    for finding in report.findings:
        mark = "[red]✗[/red]" if finding.is_problem else "[yellow]·[/yellow]"
        fix = f" [dim](--repair: {finding.repair})[/dim]" if finding.repair and not report.repaired else ""
        out.print(f"{mark} {finding.count} {escape(finding.description)} [dim]\\[{finding.kind}][/dim]{fix}")
        more = f" … {finding.count - len(finding.examples)} more" if finding.count > len(finding.examples) else ""
        out.print(f"    [dim]{escape(', '.join(finding.examples))}{more}[/dim]")
    for note in report.notes:
        out.print(f"[yellow]note:[/yellow] {escape(note)}")
    if report.consistent:
        checked = " and with the sources" if report.sources_checked else ""
        out.print(f"[green]✓ consistent[/green] (catalog, vectors and keyword indexes agree{checked})")
    else:
        out.print(f"[red]✗ not consistent: {len(report.problems)} kinds of problem[/red]")
