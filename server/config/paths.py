"""Where orgkb looks for its config file and keeps its data when the config says nothing."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DEFAULT_CONFIG_NAME = "orgkb.toml"
APP_NAME = "orgkb"


def user_config_file() -> Path:
    """The per-user config file (``~/.config/orgkb/orgkb.toml`` on Linux, the platform's equivalent elsewhere)."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / DEFAULT_CONFIG_NAME


def user_data_dir() -> Path:
    """The per-user folder for index data when no config names one (``~/.local/share/orgkb`` on Linux)."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def user_log_dir() -> Path:
    """Where `orgkb serve` writes its log file (``~/.local/state/orgkb/log`` on Linux)."""
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def no_config_message() -> str:
    """The one line said when no config file exists anywhere orgkb looks."""
    return (
        f"no config file (looked for --config, $ORGKB_CONFIG, ./{DEFAULT_CONFIG_NAME} and {user_config_file()}): "
        "run `orgkb init FOLDER` to index a folder, or `orgkb init --sample` to try the sample company"
    )


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use: ``--config``, env ORGKB_CONFIG, ./orgkb.toml, the per-user file; None if none."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("ORGKB_CONFIG")
    if env:
        return Path(env).expanduser().resolve()
    for candidate in (Path.cwd() / DEFAULT_CONFIG_NAME, user_config_file()):
        if candidate.is_file():
            return candidate.resolve()
    return None


