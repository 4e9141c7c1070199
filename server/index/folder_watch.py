"""Watching local folders with watchdog and telling which source changed.

inotify also reports files being opened and closed, and a "modified" event on a folder
whenever an entry in it changes; only events that can change a document are passed on
(created, modified, moved, deleted), editor scratch files are ignored, and nothing under the
index's own data directory counts (it may live inside a watched folder).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from orgkb.connectors.filetree import DEFAULT_EXCLUDE, matches

log = logging.getLogger(__name__)

# What can change a document. Folder "modified" events are left out: they only echo a change
# to an entry, which has its own event. `closed` (after writing) marks a save that finished.
WATCHED_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]

# Scratch files editors write beside a document while saving (vim's 4913 probe, swap and backup files).
# gitignore syntax: a leading "#" starts a comment, hence "\\#*#" for Emacs autosave files.
SCRATCH_PATTERNS = [*DEFAULT_EXCLUDE, "4913", "*.swx", "*.swpx", ".#*", "\\#*#", "*.part", "*.crdownload"]

ChangeCallback = Callable[[str], None]
"""Called with a source name when something under one of its folders changed."""


class FolderWatcher:
    """Watches the folders of several sources; calls back with the source name on a change."""

    def __init__(self, on_change: ChangeCallback, ignore_under: list[Path] | None = None) -> None:
        from watchdog.observers import Observer

        self._on_change = on_change
        self._ignore = [str(p.resolve()) for p in ignore_under or []]
        self._observer = Observer()
        self._observer.daemon = True
        self.errors: dict[str, str] = {}

    def watch(self, source: str, folders: list[Path]) -> list[str]:
        """Start watching ``folders`` for ``source``; return the folders actually watched."""
        watched: list[str] = []
        handler = _SourceEvents(self, source, watched)
        for folder in folders:
            path = str(folder.resolve())
            try:
                self._observer.schedule(handler, path, recursive=True, event_filter=WATCHED_EVENTS)
            except OSError as exc:
                # Typically the inotify watch limit (fs.inotify.max_user_watches) on a huge tree.
                self.errors[source] = f"cannot watch {path}: {exc.strerror or exc}"
                log.warning("%s: %s; it is synced only at start and by its sync_interval", source, self.errors[source])
                continue
            watched.append(path)
        return watched

    def start(self) -> None:
        """Begin delivering events (in watchdog's own thread)."""
        self._observer.start()

    def stop(self) -> None:
        """Stop watching (idempotent)."""
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5)

    def relevant(self, path: str, root: str) -> bool:
        """True when a change at ``path`` (inside ``root``) can change an indexed document."""
        if any(path == ignored or path.startswith(ignored + os.sep) for ignored in self._ignore):
            return False
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        return relative != "." and not matches(relative, SCRATCH_PATTERNS)

    def changed(self, source: str) -> None:
        """Report a relevant change in one of ``source``'s folders."""
        self._on_change(source)


class _SourceEvents(FileSystemEventHandler):
    """Forwards the relevant events under one source's folders to the `FolderWatcher`."""

    def __init__(self, watcher: FolderWatcher, source: str, roots: list[str]) -> None:
        self.watcher = watcher
        self.source = source
        self.roots = roots

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            for raw in (event.src_path, event.dest_path):
                path = os.fsdecode(raw) if raw else ""
                if path and any(path.startswith(root) and self.watcher.relevant(path, root) for root in self.roots):
                    self.watcher.changed(self.source)
                    return
        except Exception:  # noqa: BLE001 - an exception here would silently end watchdog's thread
            log.exception("%s: error handling %s", self.source, event)
