"""The `orgkb` command: index, search, serve, status.

Errors a user can fix are printed as one line on stderr with exit status 2; stdout carries only
results (and, for `serve` on stdio, only MCP messages).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from server.config import OrgkbConfig, load_config
from server.errors import OrgkbError

log = logging.getLogger("orgkb")

Command = Callable[[argparse.Namespace, OrgkbConfig], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    """Register a subcommand handler."""

    def decorator(function: Command) -> Command:
        COMMANDS[name] = function
        return function

    return decorator


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="orgkb", description="Cited search over an organisation's knowledge, for MCP clients.")
    parser.add_argument("--config", "-c", help="config file (default: $ORGKB_CONFIG, else ./orgkb.toml)")
    parser.add_argument("--verbose", "-v", action="count", default=0, help="more log output on stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="build or update the index from the configured sources")
    index.add_argument("--source", "-s", action="append", help="only this source (repeatable)")
    index.add_argument("--full", action="store_true", help="re-read everything and reconcile deletions")

    search = commands.add_parser("search", help="search the index and print cited passages")
    search.add_argument("query")
    search.add_argument("--limit", "-n", type=int, default=None)
    search.add_argument("--mode", choices=["hybrid", "semantic", "keyword"], default="hybrid")
    search.add_argument("--source", "-s", action="append", help="only this source (repeatable)")
    search.add_argument("--path-prefix")
    search.add_argument("--type", action="append", dest="file_types", help="only this file type (repeatable)")
    search.add_argument("--json", action="store_true", help="print the hits as one JSON object")

    serve = commands.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio"], default="stdio")
    serve.add_argument("--no-warm-up", action="store_true", help="load the model on first use instead of at start")

    status = commands.add_parser("status", help="show what is indexed, per source")
    status.add_argument("--json", action="store_true")
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
    # Load every subcommand module so their handlers register.
    from server import cli_commands  # noqa: F401

    try:
        config = load_config(args.config)
        return COMMANDS[args.command](args, config)
    except OrgkbError as exc:
        print(f"orgkb: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orgkb: interrupted", file=sys.stderr)
        return 130


def print_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False, default=_json_default)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def quiet_model_loading() -> None:
    """Keep library progress bars and chatter off the terminal during CLI runs."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
