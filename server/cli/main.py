"""The `orgkb` command: init, index, search, serve, status, check, access, verify, eval.

Errors a user can fix are printed as one line on stderr with exit status 2; stdout carries only
results (and, for `serve` on stdio, only MCP messages).
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence

# The command modules register their subcommands when imported.
from orgkb.server.cli import access, commands, eval as evaluation, init, verify  # noqa: F401
from orgkb.server.cli.registry import COMMANDS, package_version
from orgkb.server.config import load_config
from orgkb.server.errors import OrgkbError, describe_storage_error

log = logging.getLogger("orgkb")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every registered subcommand."""
    parser = argparse.ArgumentParser(prog="orgkb", description="Cited search over an organisation's knowledge, for MCP clients.")
    parser.add_argument(
        "--config", "-c", help="config file (default: $ORGKB_CONFIG, else ./orgkb.toml, else the per-user orgkb.toml)"
    )
    parser.add_argument("--version", action="version", version=f"orgkb {package_version()}")
    parser.add_argument("--verbose", "-v", action="count", default=0, help="more log output on stderr")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for subcommand in COMMANDS.values():
        subcommand.configure(subparsers.add_parser(subcommand.name, help=subcommand.help))
    return parser


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `orgkb` console script."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    subcommand = COMMANDS[args.command]
    try:
        if subcommand.config == "handler":
            return subcommand.handler(args, None)
        config = load_config(args.config, required=subcommand.config == "required")
        return subcommand.handler(args, config)
    except OrgkbError as exc:
        print(f"orgkb: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:
        # An unwritable data directory or a full disk: what failed and what to do, not a traceback.
        message = describe_storage_error(exc)
        if message is None:
            raise
        print(f"orgkb: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orgkb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
