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
from typing import Any, Literal

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
