"""Parsers that turn a file's bytes into titled, sectioned text, keeping heading structure.

Shared by every connector that reads files (local folders, SMB shares, wiki attachments), so a
format is supported once for all of them. `parse_file` picks the parser by suffix (or, for a
few files such as ``Dockerfile``, by name). Each parser lives in its own module and is
imported only when a file of its kind turns up: bs4, pypdf and python-docx together cost a
noticeable share of the server's start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import PurePosixPath

from orgkb.connectors.base import DocumentError
from orgkb.connectors.formats.model import ParsedFile, SkipFile
from orgkb.connectors.formats.sourcecode import LANGUAGES, language_for
from orgkb.connectors.formats.text import decode_text

# suffix -> (module in this package, function in it). Text parsers take a decoded ``str``.
_TEXT_PARSERS: dict[str, tuple[str, str]] = {
    ".md": ("markdown", "parse"),
    ".markdown": ("markdown", "parse"),
    ".mdx": ("markdown", "parse"),
    ".rst": ("rst", "parse"),
    ".txt": ("plaintext", "parse"),
    ".text": ("plaintext", "parse"),
    ".log": ("plaintext", "parse"),
    ".html": ("html", "parse"),
    ".htm": ("html", "parse"),
    ".csv": ("delimited", "parse"),
    ".tsv": ("delimited", "parse"),
    ".json": ("jsondata", "parse"),
    ".jsonl": ("jsondata", "parse_lines"),
    ".ndjson": ("jsondata", "parse_lines"),
    **{suffix: ("sourcecode", "parse") for suffix in LANGUAGES},
}
# Binary parsers take the raw bytes.
_BINARY_PARSERS: dict[str, tuple[str, str]] = {
    ".pdf": ("pdf", "parse"),
    ".docx": ("word", "parse"),
}
# Suffix-less files that are conventionally plain text.
_PLAIN_TEXT_NAMES = frozenset(
    {"readme", "license", "licence", "copying", "notice", "authors", "changelog", "contributing", "install", "todo"}
)


def parse_file(name: str, data: bytes) -> ParsedFile:
    """Parse ``data`` according to the suffix of ``name``.

    Raises `SkipFile` for binary or unsupported files and `DocumentError` for files that
    should be readable but are not (corrupt PDF, undecodable text).
    """
    path = PurePosixPath(name.replace("\\", "/"))
    suffix = path.suffix.lower()
    if suffix in _BINARY_PARSERS:
        return _parser(*_BINARY_PARSERS[suffix])(data, path.name)
    target = _text_parser_for(path)
    if target is None:
        raise SkipFile(f"unsupported file type '{suffix}'" if suffix else f"unsupported file '{path.name}' (no suffix)")
    return _parser(*target)(decode_text(data), path.name)


def supported_suffixes() -> frozenset[str]:
    """Lower-case suffixes (with the dot) that `parse_file` understands."""
    return frozenset(_TEXT_PARSERS) | frozenset(_BINARY_PARSERS)


def is_supported(name: str) -> bool:
    """Whether `parse_file` has a parser for ``name``, by suffix or by a known file name.

    Covers suffix-less files too (``Dockerfile``, ``Makefile``, ``README``), which
    `supported_suffixes` cannot express.
    """
    path = PurePosixPath(name.replace("\\", "/"))
    return path.suffix.lower() in _BINARY_PARSERS or _text_parser_for(path) is not None


def _text_parser_for(path: PurePosixPath) -> tuple[str, str] | None:
    """The text parser for ``path``: by suffix, else by well-known file name."""
    suffix = path.suffix.lower()
    if suffix in _TEXT_PARSERS:
        return _TEXT_PARSERS[suffix]
    if language_for(path.name) is not None:
        return ("sourcecode", "parse")
    if not suffix and path.name.lower() in _PLAIN_TEXT_NAMES:
        return ("plaintext", "parse")
    return None


def _parser(module: str, function: str) -> Callable[..., ParsedFile]:
    """Import a parser module on first use and return its parse function."""
    parser: Callable[..., ParsedFile] = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    return parser


__all__ = ["DocumentError", "ParsedFile", "SkipFile", "is_supported", "parse_file", "supported_suffixes"]
