"""The `orgkb` subcommands and what they share: registration, JSON output, quiet model loading.

Command modules import this module (never `orgkb.server.cli.main`), and `main` imports the
command modules: the dependency goes one way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from orgkb.server.config import OrgkbConfig

Command = Callable[[argparse.Namespace, OrgkbConfig], int]
Configure = Callable[[argparse.ArgumentParser], None]


class Subcommand:
    """A registered subcommand: its help, how to add its arguments, and its handler."""

    def __init__(self, name: str, help: str, configure: Configure, handler: Command) -> None:
        self.name = name
        self.help = help
        self.configure = configure
        self.handler = handler


COMMANDS: dict[str, Subcommand] = {}


def command(name: str, help: str, configure: Configure | None = None) -> Callable[[Command], Command]:
    """Register a subcommand: ``@command("index", "build the index", add_arguments)``."""

    def decorator(function: Command) -> Command:
        COMMANDS[name] = Subcommand(name, help, configure or (lambda _parser: None), function)
        return function

    return decorator


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
