"""Reading the config file: TOML, env overrides, relative paths, and one line per mistake."""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any

from orgkb.connectors.base import SourceConfig, SourceUnavailable
from orgkb.server.config.model import OrgkbConfig, UnavailableSource, source_model
from orgkb.server.config.paths import find_config_path, no_config_message, user_data_dir
from orgkb.server.errors import ConfigError
from pydantic import ValidationError


def _validate_source_entries(raw: Any, context: dict[str, Any], label: str, data: dict[str, Any]) -> list[SourceConfig]:
    """Validate each [[sources]] entry by its type's model, reporting errors with their position.

    An entry that fails only because what it names is missing (`SourceUnavailable`) is left out
    and recorded in ``context["unavailable"]``; any other problem is a `ConfigError`.
    """
    if not isinstance(raw, list):
        raise ConfigError(f"{label}: `sources` must be a list of [[sources]] tables")
    parsed: list[SourceConfig] = []
    lines: list[str] = []
    for index, item in enumerate(raw):
        try:
            model = source_model(item)
        except ValueError as exc:
            lines.append(f"{label}: {_describe_location(['sources', index], data)}: {exc}")
            continue
        try:
            parsed.append(model.model_validate(item, context=context))
        except ValidationError as exc:
            reasons = _unavailable_reasons(exc)
            if reasons and isinstance(item.get("name"), str):
                context.setdefault("unavailable", []).append(
                    UnavailableSource(name=item["name"], type=str(item["type"]), reason="; ".join(reasons))
                )
            else:
                lines.append(format_validation_error(exc, label, data, prefix=["sources", index]))
    if lines:
        raise ConfigError("\n".join(lines))
    return parsed


def _unavailable_reasons(exc: ValidationError) -> list[str]:
    """The messages of ``exc`` when every error in it is a `SourceUnavailable`; else empty."""
    reasons = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if not isinstance(cause, SourceUnavailable):
            return []
        reasons.append(str(cause))
    return reasons


def empty_config() -> OrgkbConfig:
    """A config with no sources and the per-user data folder (what `serve` runs on when the config is unusable)."""
    return _build(data={}, base_dir=user_data_dir(), label="(no config file)")


def load_config(path: str | os.PathLike[str] | None = None, *, required: bool = True) -> OrgkbConfig:
    """Read, validate and resolve the config; raise `ConfigError` with one readable line per problem.

    With no config file anywhere orgkb looks, ``required`` makes that a `ConfigError` too;
    otherwise the result is `empty_config()` (for commands that need no sources).
    """
    config_path = find_config_path(path)
    if config_path is None:
        if required:
            raise ConfigError(no_config_message())
        return empty_config()
    else:
        label = str(config_path)
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {config_path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
        base_dir = config_path.parent
    return _build(data, base_dir, label)


def _build(data: dict[str, Any], base_dir: Path, label: str) -> OrgkbConfig:
    env_data_dir = os.environ.get("ORGKB_DATA_DIR")
    if env_data_dir:
        data["data_dir"] = str(Path(env_data_dir).expanduser().resolve())
    elif label == "(no config file)":
        # Never the working directory a client happens to start in (Claude Desktop starts in /).
        data["data_dir"] = str(user_data_dir())
    context: dict[str, Any] = {"base_dir": base_dir}
    if "sources" in data:
        data = {**data, "sources": _validate_source_entries(data["sources"], context, label, data)}
    try:
        config = OrgkbConfig.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, label, data)) from None
    config._unavailable = list(context.get("unavailable", []))
    return config


def format_validation_error(
    exc: ValidationError, label: str, data: dict[str, Any], prefix: list[Any] | None = None
) -> str:
    """One line per problem: ``file: sources[0] (handbook).paths: folder not found: /x``.

    A misspelt required key is one problem, not two: ``pathz: unknown key (did you mean paths?)``
    stands for both the unknown key and the missing one.
    """
    errors = exc.errors()
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    guesses: dict[tuple[Any, ...], str] = {}  # unknown key's location -> the missing key it stands for
    for error in errors:
        if error["type"] == "extra_forbidden":
            parent, key = tuple(error["loc"][:-1]), str(error["loc"][-1])
            siblings = [str(m[-1]) for m in missing if m[:-1] == parent]
            guess = difflib.get_close_matches(key, siblings, n=1)
            if guess:
                guesses[tuple(error["loc"])] = guess[0]
    explained = {(*loc[:-1], name) for loc, name in guesses.items()}
    lines = []
    for error in errors:
        if error["type"] == "missing" and tuple(error["loc"]) in explained:
            continue
        loc = [*(prefix or []), *error["loc"]]
        where = _describe_location(loc, data)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            if tuple(error["loc"]) in guesses:
                message += f" (did you mean {guesses[tuple(error['loc'])]}?)"
        message = message.removeprefix("Value error, ")
        lines.append(f"{label}: {where}: {message}" if where else f"{label}: {message}")
    return "\n".join(lines)


def _describe_location(loc: list[Any], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and "name" in node:
                    label += f" ({node['name']})"
            parts.append(label)
        else:
            # pydantic inserts the tagged model's name into locations; those are not keys.
            if isinstance(node, dict) and item not in node and parts and str(item)[:1].isupper():
                continue
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)
