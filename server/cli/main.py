"""The `orgkb` command: init, index, search, serve, status, check.

Errors a user can fix are printed as one line on stderr with exit status 2 (a config mistake, a
bad argument, an unwritable data directory or a full disk); stdout carries only results (and,
for `serve` on stdio, only MCP messages).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from orgkb.server.config import OrgkbConfig, load_config
from orgkb.server.errors import OrgkbError, describe_storage_error

log = logging.getLogger("orgkb")

Command = Callable[[argparse.Namespace, Any], int]
Configure = Callable[[argparse.ArgumentParser], None]
# "required": no usable config is a one-line error; "optional": the command runs without one
# (sources-free defaults); "handler": the handler loads it itself (`serve` starts despite errors).
ConfigNeed = Literal["required", "optional", "handler"]


class Subcommand:
    """A registered subcommand: its help, how to add its arguments, its handler, and whether it needs a config."""

    def __init__(self, name: str, help: str, configure: Configure, handler: Command, config: ConfigNeed = "required") -> None:
        self.name = name
        self.help = help
        self.configure = configure
        self.handler = handler
        self.config = config


COMMANDS: dict[str, Subcommand] = {}

# Modules whose import registers subcommands; a new command family adds its module here.
COMMAND_MODULES = ["orgkb.server.cli.init", "orgkb.server.cli.commands", "orgkb.server.cli.eval"]


def command(
    name: str, help: str, configure: Configure | None = None, config: ConfigNeed = "required"
) -> Callable[[Command], Command]:
    """Register a subcommand: ``@command("index", "build the index", add_arguments)``.

    The handler gets the loaded `OrgkbConfig` (``config="handler"``: None, it loads its own).
    """

    def decorator(function: Command) -> Command:
        COMMANDS[name] = Subcommand(name, help, configure or (lambda _parser: None), function, config)
        return function

    return decorator


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every registered subcommand."""
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module)
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


def package_version() -> str:
    """The installed orgkb version ("0" when running from a checkout without metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("orgkb")
    except PackageNotFoundError:
        return "0"


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
