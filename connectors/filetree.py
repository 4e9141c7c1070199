"""Walking a tree of files (a local folder, an SMB share) into documents.

Everything that does not depend on *where* the files are lives here once: include/exclude
globs, ignore files, size limits, version stamps and parsing. A `FileTree` only lists folders
and reads files; the local and SMB connectors each provide one.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Protocol

from pydantic import BaseModel, Field

from orgkb.connectors.base import Document, DocumentError, DocumentRef, Failure, Section, SkippedDocument, SourceConfig
from orgkb.connectors.formats import ParsedFile, SkipFile, parse_file

DEFAULT_EXCLUDE = [
    ".git/", ".hg/", ".svn/", "node_modules/", "__pycache__/", ".venv/", ".orgkb/",
    ".DS_Store", "Thumbs.db", "~$*", "*.tmp", "*.swp", "*~", ".~lock.*#",
]


class FileEntry(BaseModel):
    """One entry of a folder listing. ``path`` is relative to the tree root, with ``/``."""

    path: str
    is_dir: bool
    size: int = 0
    mtime: float = 0.0
    stamp: str | None = Field(default=None, description="Changes when the file's permissions change (e.g. its ctime).")


class FileTree(Protocol):
    """A folder hierarchy that can be listed and read (local disk, SMB share)."""

    def list_dir(self, path: str) -> list[FileEntry]:
        """Entries of the folder ``path`` ("" is the root); raise OSError when unreadable."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of a file; raise OSError when unreadable."""
        ...

    def uri(self, path: str) -> str:
        """A uri a person can open for the file."""
        ...


class FileFilterConfig(SourceConfig):
    """File selection settings shared by every file-based source."""

    include: list[str] = Field(default_factory=lambda: ["**"], description="Globs of files to index.")
    exclude: list[str] = Field(default_factory=list, description="Globs to leave out (added to the defaults).")
    ignore_file: str | None = Field(
        default=".orgkbignore", description="Name of gitignore-style files whose patterns are excluded."
    )
    max_file_size: int = Field(default=25 * 1024 * 1024, ge=1, description="Bytes; larger files are skipped.")


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a gitignore-style glob to a regex over a relative path.

    ``*`` stays within a folder, ``**`` crosses folders, a pattern without ``/`` matches a name
    at any depth, and a trailing ``/`` matches a folder and everything in it.
    """
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    anchored = "/" in body
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = body.find("]", i + 1)
            if end < 0:
                out.append(re.escape(char))
                i += 1
            else:
                out.append("[" + body[i + 1 : end].replace("!", "^", 1) + "]")
                i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    suffix = "/.*" if directory else "(?:/.*)?"
    return re.compile(f"^{prefix}{''.join(out)}{suffix}$")


def matches(path: str, patterns: list[str]) -> bool:
    """True when ``path`` matches any of the globs."""
    return any(glob_regex(p).match(path) for p in patterns)


class _IgnoreRules:
    """Patterns from ignore files found while walking; a file's own folder's rules apply below it."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, str, bool]] = []  # (base folder, pattern, negated)

    def add(self, base: str, text: str) -> None:
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            self.rules.append((base, line[1:] if negated else line, negated))

    def ignored(self, path: str, is_dir: bool) -> bool:
        result = False
        for base, pattern, negated in self.rules:
            if base and not path.startswith(base + "/"):
                continue
            relative = path[len(base) + 1 :] if base else path
            candidate = relative + "/" if is_dir and pattern.endswith("/") else relative
            if glob_regex(pattern).match(candidate):
                result = not negated
        return result


class TreeScanner:
    """Lists and loads documents from a `FileTree` with the shared file selection rules."""

    def __init__(self, tree: FileTree, config: FileFilterConfig, key_prefix: str = "") -> None:
        self.tree = tree
        self.config = config
        self.key_prefix = key_prefix
        self.exclude = [*DEFAULT_EXCLUDE, *config.exclude]

    def key_of(self, path: str) -> str:
        """The document key for a file path in this tree."""
        return f"{self.key_prefix}{path}"

    def path_of(self, key: str) -> str:
        """The file path for a document key of this tree."""
        return key[len(self.key_prefix) :]

    def walk(self) -> Iterator[DocumentRef | Failure]:
        """Refs for every selected file; failures for unreadable folders and skipped files.

        A folder that cannot be listed is reported; its files are yielded as failures only
        if they were never seen, so a permission change never deletes indexed documents
        silently: the caller sees the folder failure and keeps them (see `FilesConnector`).
        """
        rules = _IgnoreRules()
        stack = [""]
        while stack:
            folder = stack.pop()
            try:
                entries = sorted(self.tree.list_dir(folder), key=lambda e: e.path)
            except OSError as exc:
                yield Failure(
                    source=self.config.name, key=self.key_of(folder + "/" if folder else ""),
                    message=f"cannot list folder: {exc.strerror or exc}", scope="folder",
                )
                continue
            if self.config.ignore_file:
                for entry in entries:
                    if not entry.is_dir and posixpath.basename(entry.path) == self.config.ignore_file:
                        try:
                            rules.add(folder, self.tree.read(entry.path).decode("utf-8", "replace"))
                        except OSError as exc:
                            yield Failure(source=self.config.name, key=self.key_of(entry.path), message=f"cannot read ignore file: {exc}")
            subfolders = []
            for entry in entries:
                if self._excluded(entry.path, entry.is_dir) or rules.ignored(entry.path, entry.is_dir):
                    continue
                if entry.is_dir:
                    subfolders.append(entry.path)
                    continue
                if posixpath.basename(entry.path) == self.config.ignore_file:
                    continue
                if not matches(entry.path, self.config.include):
                    continue
                if entry.size > self.config.max_file_size:
                    yield Failure(
                        source=self.config.name,
                        key=self.key_of(entry.path),
                        message=f"skipped: {entry.size:,} bytes is over max_file_size ({self.config.max_file_size:,})",
                        skipped=True,
                    )
                    continue
                # A permission change alters the stamp, so the file is read again (not embedded again).
                stamp = f":{entry.stamp}" if entry.stamp else ""
                yield DocumentRef(key=self.key_of(entry.path), version=f"{entry.mtime:.6f}:{entry.size}{stamp}")
            stack.extend(reversed(subfolders))

    def parse(self, path: str, data: bytes) -> ParsedFile:
        """Parse a file's bytes; a tree with its own conventions (a wiki) refines this."""
        return parse_file(posixpath.basename(path), data)

    def _excluded(self, path: str, is_dir: bool) -> bool:
        return matches(path + "/" if is_dir else path, self.exclude)

    def load(self, ref: DocumentRef) -> Document:
        """Read and parse one file. Raises `DocumentError` (with `SkipFile` turned into a skip)."""
        path = self.path_of(ref.key)
        try:
            data = self.tree.read(path)
        except OSError as exc:
            raise DocumentError(f"cannot read file: {exc.strerror or exc}") from exc
        try:
            parsed = self.parse(path, data)
        except SkipFile as exc:
            raise SkippedDocument(str(exc)) from exc
        mtime = _mtime_of(ref.version)
        suffix = PurePosixPath(path).suffix.lower().lstrip(".")
        metadata = {**parsed.metadata, "path": path, "file_type": suffix or "txt"}
        sections = parsed.sections or [Section(text="")]
        return Document(
            source=self.config.name,
            key=ref.key,
            title=parsed.title or PurePosixPath(path).stem.replace("-", " ").replace("_", " ").strip() or path,
            uri=self.tree.uri(path),
            sections=[s for s in sections if s.text.strip()] or sections,
            metadata=metadata,
            modified=datetime.fromtimestamp(mtime, tz=UTC) if mtime is not None else None,
            mime_type=parsed.mime_type,
            version=ref.version,
        )


def _mtime_of(version: str | None) -> float | None:
    if not version:
        return None
    try:
        return float(version.split(":", 1)[0])
    except ValueError:
        return None
