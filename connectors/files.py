"""Local and mounted folders (`type = "files"`): the file-share connector.

Symlinks are followed only while they stay inside the configured roots: a link to /etc is
skipped and reported, and a link to an ancestor folder (a loop) is not descended into. FIFOs,
sockets, devices and symlink loops are reported and never opened; /proc, /sys and /dev are
never walked, and `/` is a root only with ``allow_system_root = true``. Any file name works as
a key, including names that are not UTF-8 (see `readable_path`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from orgkb.connectors.base import BaseConnector, ConnectorError, ConnectorType, Document, DocumentRef, Failure, SourceConfig, SourceUnavailable
from orgkb.connectors.filetree import FileEntry, FileFilterConfig, TreeScanner
from orgkb.connectors.permissions import Permissions
from orgkb.connectors.posix_permissions import posix_permissions


# Kernel views, not documents: reading them blocks (/proc/kmsg) or never ends (/dev/zero).
SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))


def _is_system_folder(path: Path) -> bool:
    return any(path == folder or folder in path.parents for folder in SYSTEM_FOLDERS)


class FilesConfig(FileFilterConfig):
    """A source of one or more local (or mounted network) folders."""

    type: Literal["files"] = "files"
    paths: list[Path] = Field(min_length=1, description="Root folders; relative to the config file.")
    follow_symlinks: bool = Field(default=True, description="Follow links that stay inside the roots.")
    allow_system_root: bool = Field(
        default=False, description="Allow `/` as a root (the whole machine); /proc, /sys and /dev are skipped even then."
    )

    @field_validator("paths", mode="after")
    @classmethod
    def _resolve_paths(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        resolved = []
        for path in value:
            full = SourceConfig.resolve_path(path, info)
            if _is_system_folder(full):
                raise ValueError(f"{full} is a kernel view (/proc, /sys, /dev), not a folder of documents")
            if not full.is_dir():
                raise SourceUnavailable(f"folder not found: {full}")
            resolved.append(full)
        return resolved

    @model_validator(mode="after")
    def _no_system_root(self) -> FilesConfig:
        if not self.allow_system_root and any(path == Path(path.anchor) for path in self.paths):
            raise ValueError("`/` as a root would index the whole machine: name the folders, or set allow_system_root = true")
        return self


_ESCAPED_BYTE = re.compile(r"\\x[89a-f][0-9a-f]")


def readable_path(name: str) -> str:
    """A file name from the OS as orgkb keys it: valid Unicode, lossless.

    A byte that is not UTF-8 (carried by ``os.fsdecode`` as a lone surrogate) is written
    ``\\xe9``; a backslash is doubled only where it would otherwise read as such an escape,
    so every other name is its own key. `os_path` reverses it exactly.
    """
    if "\\" not in name and not _has_surrogate(name):
        return name
    out: list[str] = []
    for index, char in enumerate(name):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char == "\\":
            following = name[index + 1 : index + 2]
            ambiguous = following == "\\" or _has_surrogate(following) or _ESCAPED_BYTE.match(name, index)
            out.append("\\\\" if ambiguous else "\\")
        else:
            out.append(char)
    return "".join(out)


def os_path(readable: str) -> str:
    """The OS form (``os.fsdecode``'s, with surrogates) of a `readable_path`."""
    if "\\" not in readable:
        return readable
    out: list[str] = []
    index = 0
    while index < len(readable):
        if readable.startswith("\\\\", index):
            out.append("\\")
            index += 2
        elif _ESCAPED_BYTE.match(readable, index):
            out.append(chr(0xDC00 + int(readable[index + 2 : index + 4], 16)))
            index += 4
        else:
            out.append(readable[index])
            index += 1
    return "".join(out)


def _has_surrogate(text: str) -> bool:
    return any(0xDC80 <= ord(char) <= 0xDCFF for char in text)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class LocalTree:
    """A `FileTree` over one local folder that never yields or reads a path outside it.

    Odd entries (FIFOs, sockets, devices, symlink loops, links out of the root, kernel views
    under ``/``) are listed with a `FileEntry.problem` and never opened. Paths are
    `readable_path` forms, so any file name, valid UTF-8 or not, is stored and read back.
    """

    def __init__(self, root: Path, follow_symlinks: bool, max_bytes: int | None = None, *, permissions: bool = False) -> None:
        self.root = root.resolve()
        self.follow_symlinks = follow_symlinks
        self.max_bytes = max_bytes
        self.capture_permissions = permissions  # list each file's POSIX permissions with it

    def _inside(self, real: Path) -> bool:
        return real == self.root or self.root in real.parents

    def _full(self, path: str) -> Path:
        return self.root / os_path(path) if path else self.root

    def list_dir(self, path: str) -> list[FileEntry]:
        folder = self._full(path)
        real_folder = Path(os.path.realpath(folder))
        entries: list[FileEntry] = []
        with os.scandir(folder) as listing:
            for item in listing:
                name = readable_path(item.name)
                entry = self._entry(item, f"{path}/{name}" if path else name, real_folder)
                if entry is not None:
                    entries.append(entry)
        return entries

    def _entry(self, item: os.DirEntry[str], rel: str, real_folder: Path) -> FileEntry | None:
        """One listed item as an entry (None when it is passed over silently)."""
        try:
            if item.is_symlink():
                if not self.follow_symlinks:
                    return None
                # os.path.realpath, unlike Path.resolve, does not raise on a loop.
                target = Path(os.path.realpath(item.path))
                if not self._inside(target):
                    return FileEntry(path=rel, is_dir=False, problem="skipped: symlink points outside the source root")
                try:
                    info = os.stat(item.path)
                except OSError as exc:
                    reason = "a symlink loop" if exc.errno == errno.ELOOP else "a broken symlink"
                    return FileEntry(path=rel, is_dir=False, problem=f"skipped: {reason}")
                if stat.S_ISDIR(info.st_mode) and (target == real_folder or target in real_folder.parents):
                    return None  # a link to an ancestor would walk in circles
            else:
                info = item.stat(follow_symlinks=False)
                target = real_folder / item.name
        except FileNotFoundError:
            return None  # removed while listing
        except OSError as exc:
            return FileEntry(path=rel, is_dir=False, problem=f"skipped: cannot read the entry: {exc.strerror or exc}")
        if stat.S_ISDIR(info.st_mode):
            if _is_system_folder(target):
                return FileEntry(path=rel, is_dir=True, problem="skipped: a kernel view (/proc, /sys, /dev), not documents")
            return FileEntry(path=rel, is_dir=True)
        if stat.S_ISREG(info.st_mode):
            # Listed with the file, so a chmod or an ACL edit alone is recorded without reading it.
            permissions = posix_permissions(target) if self.capture_permissions else None
            return FileEntry(path=rel, is_dir=False, size=info.st_size, mtime=info.st_mtime, permissions=permissions)
        return FileEntry(path=rel, is_dir=False, problem=f"skipped: {_kind(info.st_mode)}, not a regular file")

    def read(self, path: str) -> bytes:
        real = Path(os.path.realpath(self._full(path)))
        # Checked again at read time: the link may have changed since the listing.
        if not self._inside(real):
            raise PermissionError(errno.EACCES, f"{path} resolves outside the source root")
        # The file may have become a FIFO or a device since the listing: opening without
        # blocking and checking what was opened never waits for a writer.
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
        with os.fdopen(os.open(real, flags), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, f"{_kind(info.st_mode)}, not a regular file")
            if self.max_bytes is None:
                return handle.read()
            data = handle.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise OSError(errno.EFBIG, f"grew over max_file_size ({self.max_bytes:,} bytes) since it was listed")
        return data

    def uri(self, path: str) -> str:
        return self._full(path).as_uri()

    def permissions(self, path: str) -> Permissions:
        """Who may read the file, from its owner, group, mode and ACL."""
        return posix_permissions(self._full(path))


class FilesConnector(BaseConnector):
    """Indexes the files under one or more root folders."""

    def __init__(self, config: FilesConfig) -> None:
        self.config = config
        self.scanners = self._scanners()

    def _scanners(self) -> list[TreeScanner]:
        roots = self.config.paths
        if len(roots) == 1:
            return [TreeScanner(LocalTree(roots[0], self.config.follow_symlinks, self.config.max_file_size, permissions=True), self.config)]
        scanners = []
        used: set[str] = set()
        for index, root in enumerate(roots):
            # With several roots, keys start with the root's folder name so they stay unique.
            label = root.name or f"root{index}"
            if label in used:
                label = f"{label}-{index}"
            used.add(label)
            scanners.append(TreeScanner(LocalTree(root, self.config.follow_symlinks, self.config.max_file_size, permissions=True), self.config, f"{label}/"))
        return scanners

    def check(self) -> list[str]:
        for root in self.config.paths:
            if not root.is_dir():
                raise ConnectorError(f"{self.config.name}: folder not found: {root}")
            if not os.access(root, os.R_OK | os.X_OK):
                raise ConnectorError(f"{self.config.name}: folder not readable: {root}")
        return []

    def watch_paths(self) -> list[Path]:
        return list(self.config.paths)

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        self.check()
        for scanner in self.scanners:
            yield from scanner.walk()

    def load(self, ref: DocumentRef) -> Document:
        scanner = self._scanner_for(ref.key)
        document = scanner.load(ref)
        assert isinstance(scanner.tree, LocalTree)
        return document.model_copy(update={"permissions": scanner.tree.permissions(scanner.path_of(ref.key))})

    def _scanner_for(self, key: str) -> TreeScanner:
        for scanner in self.scanners:
            if scanner.key_prefix and key.startswith(scanner.key_prefix):
                return scanner
        return self.scanners[0]


CONNECTOR = ConnectorType(type="files", config_model=FilesConfig, factory=FilesConnector, description="Local or mounted folders of documents.")
