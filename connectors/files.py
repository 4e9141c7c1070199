"""Local and mounted folders (`type = "files"`): the file-share connector.

Symlinks are followed only while they stay inside the configured roots: a link to /etc is
skipped and reported, and a link to an ancestor folder (a loop) is not descended into.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from orgkb.connectors.base import ConnectorError, ConnectorRegistry, Document, DocumentRef, Failure, SourceConfig, SourceUnavailable
from orgkb.connectors.filetree import FileEntry, FileFilterConfig, TreeScanner


class FilesConfig(FileFilterConfig):
    """A source of one or more local (or mounted network) folders."""

    type: Literal["files"] = "files"
    paths: list[Path] = Field(min_length=1, description="Root folders; relative to the config file.")
    follow_symlinks: bool = Field(default=True, description="Follow links that stay inside the roots.")

    @field_validator("paths", mode="after")
    @classmethod
    def _resolve_paths(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        resolved = []
        for path in value:
            full = SourceConfig.resolve_path(path, info)
            if not full.is_dir():
                raise SourceUnavailable(f"folder not found: {full}")
            resolved.append(full)
        return resolved


class LocalTree:
    """A `FileTree` over one local folder that never yields or reads a path outside it."""

    def __init__(self, root: Path, follow_symlinks: bool) -> None:
        self.root = root.resolve()
        self.follow_symlinks = follow_symlinks
        self.escapes: list[str] = []

    def _inside(self, real: Path) -> bool:
        return real == self.root or self.root in real.parents

    def _full(self, path: str) -> Path:
        return self.root / path if path else self.root

    def list_dir(self, path: str) -> list[FileEntry]:
        folder = self._full(path)
        real_folder = folder.resolve()
        entries: list[FileEntry] = []
        with os.scandir(folder) as listing:
            for item in listing:
                rel = f"{path}/{item.name}" if path else item.name
                if item.is_symlink():
                    if not self.follow_symlinks:
                        continue
                    target = Path(item.path).resolve()
                    if not self._inside(target):
                        self.escapes.append(rel)
                        continue
                    if target == real_folder or target in real_folder.parents:
                        continue  # a link to an ancestor would walk in circles
                try:
                    info = os.stat(item.path)
                except OSError:
                    continue  # a dangling link or a file removed while listing
                if stat.S_ISDIR(info.st_mode):
                    entries.append(FileEntry(path=rel, is_dir=True))
                elif stat.S_ISREG(info.st_mode):
                    entries.append(FileEntry(path=rel, is_dir=False, size=info.st_size, mtime=info.st_mtime))
        return entries

    def read(self, path: str) -> bytes:
        real = self._full(path).resolve()
        # Checked again at read time: the link may have changed since the listing.
        if not self._inside(real):
            raise PermissionError(f"{path} resolves outside the source root")
        return real.read_bytes()

    def uri(self, path: str) -> str:
        return self._full(path).as_uri()


def walk_local(scanner: TreeScanner) -> Iterator[DocumentRef | Failure]:
    """Walk a scanner over a `LocalTree`, then report the links it refused to follow."""
    tree = scanner.tree
    assert isinstance(tree, LocalTree)
    tree.escapes.clear()
    yield from scanner.walk()
    for rel in tree.escapes:
        yield Failure(
            source=scanner.config.name,
            key=scanner.key_of(rel),
            message="skipped: symlink points outside the source root",
            skipped=True,
        )


@ConnectorRegistry.register("files", FilesConfig, "Local or mounted folders of documents.")
class FilesConnector:
    """Indexes the files under one or more root folders."""

    def __init__(self, config: FilesConfig) -> None:
        self.config = config
        self.scanners = self._scanners()

    def _scanners(self) -> list[TreeScanner]:
        roots = self.config.paths
        if len(roots) == 1:
            return [TreeScanner(LocalTree(roots[0], self.config.follow_symlinks), self.config)]
        scanners = []
        used: set[str] = set()
        for index, root in enumerate(roots):
            # With several roots, keys start with the root's folder name so they stay unique.
            label = root.name or f"root{index}"
            if label in used:
                label = f"{label}-{index}"
            used.add(label)
            scanners.append(TreeScanner(LocalTree(root, self.config.follow_symlinks), self.config, f"{label}/"))
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
            yield from walk_local(scanner)

    def load(self, ref: DocumentRef) -> Document:
        return self._scanner_for(ref.key).load(ref)

    def _scanner_for(self, key: str) -> TreeScanner:
        for scanner in self.scanners:
            if scanner.key_prefix and key.startswith(scanner.key_prefix):
                return scanner
        return self.scanners[0]
