"""`orgkb access USER URI`: may this person open this document, and which rule decided.

Exit status 0 when they may, 1 when they may not, 2 for a mistake (no such document, no way to
find the user's groups). The answer comes from the same check every caller gets
(`OrgkbService.explain_access`).
"""

from __future__ import annotations

import argparse

from orgkb.server.app.service import OrgkbService
from orgkb.server.cli.principals import access_for, add_group_arguments
from orgkb.server.cli.registry import command, print_json
from orgkb.server.config import OrgkbConfig


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", help="the user name, as tokens and the directory name it")
    parser.add_argument("uri", help="an orgkb:// uri, a citation uri a search printed, or a document id")
    add_group_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


@command("access", "say whether a user may open a document, and which rule decided (exit 0 yes, 1 no)", _arguments)
def access_command(args: argparse.Namespace, config: OrgkbConfig) -> int:
    """Print the decision and the rule; exit 0 when allowed, 1 when denied."""
    from rich.console import Console
    from rich.markup import escape

    decision = OrgkbService.from_config(config).explain_access(access_for(config, args.user, args.groups), args.uri)
    if args.json:
        print_json(decision.model_dump(mode="json"))
        return 0 if decision.allowed else 1
    out = Console(soft_wrap=True)
    verdict = "[green]may open[/green]" if decision.allowed else "[red]may not open[/red]"
    groups = ", ".join(decision.groups) or "no groups"
    out.print(f"{escape(decision.user)} ({escape(groups)}) {verdict} {escape(decision.doc_id)}", highlight=False)
    out.print(f"  title: {escape(decision.title)}\n  uri: {escape(decision.uri)}", highlight=False)
    out.print(f"  decided by: {escape(decision.decided_by)}", highlight=False)
    if decision.rule is not None:
        allows = ", ".join(decision.document_allows) or "nobody"
        out.print(f"  document permissions: {escape(decision.rule)} (allows {escape(allows)})", highlight=False)
    return 0 if decision.allowed else 1
