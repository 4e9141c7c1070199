"""Walking a tree of files (a local folder, an SMB share) into documents.

Everything that does not depend on *where* the files are lives here once: include/exclude
globs, ignore files, size limits, version stamps and parsing. A `FileTree` only lists folders
and reads files; the local and SMB connectors each provide one.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Protocol

import pathspec
from pydantic import BaseModel, Field

from orgkb.connectors.base import Document, DocumentError, DocumentRef, Failure, Section, SkippedDocument, SourceConfig
from orgkb.connectors.formats import ParsedFile, SkipFile, is_supported
from orgkb.connectors.formats.worker import parse_isolated
from orgkb.connectors.limits import DocumentLimits, cap_metadata, check_text_size, text_budget
from orgkb.connectors.permissions import Permissions

# An ignore file is a few lines of patterns; a huge one is a mistake (or an attack), not rules.
MAX_IGNORE_FILE_BYTES = 256 * 1024
# A title is repeated in every chunk's embedding text; a whole paragraph underlined as a heading is not one.
MAX_TITLE_CHARS = 300

DEFAULT_EXCLUDE = [
    ".git/", ".hg/", ".svn/", "node_modules/", "__pycache__/", ".venv/", ".orgkb/",
    ".DS_Store", "Thumbs.db", "~$*", "*.tmp", "*.swp", "*~", ".~lock.*#",
]


class FileEntry(BaseModel):
    """One entry of a folder listing. ``path`` is relative to the tree root, with ``/``.

    ``problem`` is set for an entry that is listed but must not be opened (a FIFO, a device,
    a symlink loop, a link out of the root): it is reported as skipped, with that reason, if
    the selection rules would have indexed it.
    """

    path: str
    is_dir: bool
    size: int = 0
    mtime: float = 0.0
    permissions: Permissions | None = Field(
        default=None,
        description="Who may read the file, when the tree captures it: listed with it, so a change of "
        "permissions alone is recorded without reading the file again.",
    )
    problem: str | None = None


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
    limits: DocumentLimits = Field(
        default_factory=DocumentLimits, description="How far one file may expand when parsed (see `orgkb.connectors.limits`)."
    )


@lru_cache(maxsize=256)
def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    # RE2 matches in linear time: a pattern like ``*a*a*a*a*a*a*a*a*a*a*b`` cannot hang a run.
    return pathspec.GitIgnoreSpec.from_lines(patterns, backend="re2")


def matches(path: str, patterns: list[str]) -> bool:
    """True when ``path`` matches any of the globs (gitignore semantics: ``*`` stays within a
    folder, ``**`` crosses folders, a pattern without ``/`` matches a name at any depth, a
    leading ``/`` anchors it and a trailing ``/`` matches a folder and everything in it).

    A folder is matched as ``path/``.
    """
    return _spec(tuple(patterns)).match_file(path)


class _IgnoreRules:
    """Rules of the ignore files met while walking, each applying below its own folder.

    Matched with `pathspec` exactly as git matches ``.gitignore`` files: the deepest file with
    a matching line decides, and within a file the last matching line (``!`` re-includes).
    """

    def __init__(self) -> None:
        self.specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []  # (base folder, rules), outermost first

    def add(self, base: str, text: str) -> None:
        self.specs.append((base, pathspec.GitIgnoreSpec.from_lines(text.splitlines(), backend="re2")))

    def ignored(self, path: str, is_dir: bool) -> bool:
        result = False
        for base, spec in self.specs:
            if base and not path.startswith(base + "/"):
                continue
            relative = path[len(base) + 1 :] if base else path
            verdict = spec.check_file(relative + "/" if is_dir else relative).include
            if verdict is not None:
                result = verdict
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
                    if not entry.is_dir and entry.problem is None and posixpath.basename(entry.path) == self.config.ignore_file:
                        failure = self._read_ignore_file(entry, folder, rules)
                        if failure is not None:
                            yield failure
            subfolders = []
            for entry in entries:
                if self._excluded(entry.path, entry.is_dir) or rules.ignored(entry.path, entry.is_dir):
                    continue
                if entry.is_dir and entry.problem is None:
                    subfolders.append(entry.path)
                    continue
                if posixpath.basename(entry.path) == self.config.ignore_file:
                    continue
                if not entry.is_dir and not matches(entry.path, self.config.include):
                    continue
                skipped = entry.problem or self._skip_reason(entry)
                if skipped is not None:
                    yield Failure(source=self.config.name, key=self.key_of(entry.path), message=skipped, skipped=True)
                    continue
                yield DocumentRef(
                    key=self.key_of(entry.path), version=f"{entry.mtime:.6f}:{entry.size}", permissions=entry.permissions
                )
            stack.extend(reversed(subfolders))

    def _read_ignore_file(self, entry: FileEntry, folder: str, rules: _IgnoreRules) -> Failure | None:
        """Add an ignore file's rules; a failure when it cannot be read (its folder is still walked)."""
        if entry.size > MAX_IGNORE_FILE_BYTES:
            message = f"ignore file not used: {entry.size:,} bytes is over {MAX_IGNORE_FILE_BYTES:,}"
            return Failure(source=self.config.name, key=self.key_of(entry.path), message=message)
        try:
            rules.add(folder, self.tree.read(entry.path).decode("utf-8", "replace"))
        except OSError as exc:
            return Failure(source=self.config.name, key=self.key_of(entry.path), message=f"cannot read ignore file: {exc.strerror or exc}")
        return None

    def _skip_reason(self, entry: FileEntry) -> str | None:
        """Why a selected file is not read at all (too large, a type no parser reads), or None."""
        if entry.size > self.config.max_file_size:
            return f"skipped: {entry.size:,} bytes is over max_file_size ({self.config.max_file_size:,})"
        if not self.supports(entry.path):
            suffix = PurePosixPath(entry.path).suffix.lower()
            name = posixpath.basename(entry.path)
            return f"unsupported file type '{suffix}'" if suffix else f"unsupported file '{name}' (no suffix)"
        return None

    def supports(self, path: str) -> bool:
        """Whether `parse` reads files like ``path``; others are reported without being opened."""
        return is_supported(posixpath.basename(path))

    def parse(self, path: str, data: bytes) -> ParsedFile:
        """Parse a file's bytes in the parser process, under the source's limits.

        A tree with its own conventions (a wiki) refines this; `load` applies the text budget
        to whatever runs here.
        """
        return parse_isolated(posixpath.basename(path), data, self.config.limits)

    def _excluded(self, path: str, is_dir: bool) -> bool:
        return matches(path + "/" if is_dir else path, self.exclude)

    def load(self, ref: DocumentRef) -> Document:
        """Read and parse one file. Raises `DocumentError` (with `SkipFile` turned into a skip)."""
        path = self.path_of(ref.key)
        try:
            data = self.tree.read(path)
        except OSError as exc:
            raise DocumentError(f"cannot read file: {exc.strerror or exc}") from exc
        limits = self.config.limits
        try:
            with text_budget(limits.max_chars):
                parsed = self.parse(path, data)
        except SkipFile as exc:
            raise SkippedDocument(str(exc)) from exc
        except RecursionError as exc:
            raise DocumentError("document nests too deeply to parse") from exc
        del data
        check_text_size(list(parsed.sections), parsed.title, limits)
        mtime = _mtime_of(ref.version)
        suffix = PurePosixPath(path).suffix.lower().lstrip(".")
        metadata = {**cap_metadata(parsed.metadata, limits), "path": path, "file_type": suffix or "txt"}
        sections = parsed.sections or [Section(text="")]
        title = (parsed.title or "")[:MAX_TITLE_CHARS]
        return Document(
            source=self.config.name,
            key=ref.key,
            title=title or PurePosixPath(path).stem.replace("-", " ").replace("_", " ").strip() or path,
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
