"""`orgkb init`: a commented starter config for some folders, or the sample company to try.

Written to ``--config`` when given, else to the per-user config file, which every later
`orgkb` command (and an MCP client starting `orgkb serve` from anywhere) finds by itself.
The sample company ships inside the package (`orgkb.sample_docs`), so it works from a wheel.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from datetime import date
from importlib import resources
from pathlib import Path

from orgkb.server.cli.registry import command
from orgkb.server.config import DEFAULT_CONFIG_NAME, user_config_file, user_data_dir
from orgkb.server.errors import OrgkbError

SAMPLE_PACKAGE = "orgkb.sample_docs"

STARTER = """\
# orgkb config, written by `orgkb init` on {today}.
# Every key is described in the README ("Configuration"); paths may be relative to this file.

# Where the index lives ($ORGKB_DATA_DIR overrides).
data_dir = {data_dir}

# [embedding]
# model = "default"        # all-MiniLM-L6-v2, packaged; or a Hugging Face name / local folder
# device = "auto"          # "cpu", "cuda", "mps"

# [search]
# default_limit = 8

# [server]
# read_only = false        # true leaves out the reindex tool
{sources}"""

SOURCE = """
[[sources]]
name = {name}
type = "files"
paths = [{path}]
# include = ["**/*.md", "**/*.pdf"]   # only these files (default: everything readable)
# exclude = ["drafts/**"]
"""


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def source_names(folders: list[Path]) -> list[str]:
    """A unique, valid source name per folder, from its folder name."""
    names: list[str] = []
    for folder in folders:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.name).strip("-._") or "docs"
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def starter_config(folders: list[Path], data_dir: Path) -> str:
    """The text of a commented config indexing ``folders`` (absolute) into ``data_dir``."""
    sources = "".join(
        SOURCE.format(name=toml_string(name), path=toml_string(str(folder)))
        for name, folder in zip(source_names(folders), folders, strict=True)
    )
    return STARTER.format(today=date.today().isoformat(), data_dir=toml_string(str(data_dir)), sources=sources)


def copy_sample(destination: Path) -> Path:
    """Copy the packaged sample company to ``destination``; the path of its orgkb.toml."""
    if destination.exists() and any(destination.iterdir()):
        raise OrgkbError(f"{destination} is not empty: pass another --dest, or remove it")
    with resources.as_file(resources.files(SAMPLE_PACKAGE)) as sample:
        shutil.copytree(sample, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__init__.py", "__pycache__", ".orgkb"))
    return destination / DEFAULT_CONFIG_NAME


def _init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="*", type=Path, metavar="FOLDER", help="folders to index (one files source each)")
    parser.add_argument("--sample", action="store_true", help="copy the sample company (Brightwater Analytics) to try orgkb")
    parser.add_argument("--dest", type=Path, help="where --sample copies to (default: the per-user data folder/sample)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing config file")


@command("init", "write a starter config for some folders (or copy the sample company with --sample)", _init_arguments, config="handler")
def init_command(args: argparse.Namespace, _config: object) -> int:
    """Write the config (or copy the sample) and print the next commands."""
    if args.sample:
        if args.folders:
            raise OrgkbError("give folders or --sample, not both")
        config_path = copy_sample((args.dest or user_data_dir() / "sample").expanduser().resolve())
        _next_steps(config_path, "the sample company", explicit=True)
        return 0
    if not args.folders:
        raise OrgkbError("name the folders to index (`orgkb init ~/Documents/policies`), or pass --sample")
    folders = [folder.expanduser().resolve() for folder in args.folders]
    for folder in folders:
        if not folder.is_dir():
            raise OrgkbError(f"folder not found: {folder}")
    explicit = args.config is not None
    config_path = Path(args.config).expanduser().resolve() if explicit else user_config_file()
    if config_path.exists() and not args.force:
        raise OrgkbError(f"{config_path} exists: edit it, or pass --force to replace it")
    # The per-user config keeps its index in the per-user data folder; any other config beside itself.
    data_dir = config_path.parent / ".orgkb" if explicit else user_data_dir() / "index"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(starter_config(folders, data_dir), encoding="utf-8")
    _next_steps(config_path, ", ".join(str(f) for f in folders), explicit=explicit)
    return 0


def _next_steps(config_path: Path, what: str, *, explicit: bool) -> None:
    flag = f" --config {config_path}" if explicit else ""
    print(f"Wrote {config_path} for {what}.", file=sys.stderr)
    print(f"Next: orgkb{flag} index    then: orgkb{flag} search \"your question\"", file=sys.stderr)
    print(f"MCP clients: command `orgkb`, arguments `{(flag + ' serve').strip()}`", file=sys.stderr)
