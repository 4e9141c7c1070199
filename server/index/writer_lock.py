"""One writer per data directory: a file lock on ``<data_dir>/index.lock``.

Embedded Chroma is not safe for two processes writing the same folder, so whoever writes the
index holds this lock: `orgkb index` for one run, `orgkb serve` with live sync for its whole
life. Inside the holding process, index runs take turns through a thread lock. The lock is the
`filelock` package's (fcntl on POSIX, msvcrt on Windows); ``index.holder`` beside it names the
holder (pid and command), so a refused writer can say who to wait for.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from orgkb.server.errors import IndexBusyError

LOCK_NAME = "index.lock"
HOLDER_NAME = "index.holder"

# Data directories whose lock this process holds for its lifetime (`orgkb serve`).
_held: dict[Path, WriterLock] = {}
_held_guard = threading.Lock()


class WriterLock:
    """The writer lock of one data directory, held by this process while acquired."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.path = self.data_dir / LOCK_NAME
        self.holder_path = self.data_dir / HOLDER_NAME
        self._lock: FileLock | None = None
        # Index runs inside the holding process take turns on this.
        self.turn = threading.Lock()

    @property
    def held(self) -> bool:
        """True while this process holds the lock."""
        return self._lock is not None

    def try_acquire(self, holder: str) -> bool:
        """Take the lock without waiting; record ``holder`` beside it. False when another process has it."""
        if self._lock is not None:
            return True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # One lock object per acquisition, not shared by threads: the lock belongs to this process.
        lock = FileLock(self.path, timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            return False
        self.holder_path.write_text(f"{os.getpid()} {holder}\n", encoding="utf-8")
        self._lock = lock
        return True

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._lock is None:
            return
        lock, self._lock = self._lock, None
        try:
            self.holder_path.write_text("", encoding="utf-8")
        finally:
            lock.release(force=True)

    def holder(self) -> str:
        """Who holds the lock, as recorded beside it (``pid command``), or "another process"."""
        try:
            text = self.holder_path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        if not text:
            return "another orgkb process"
        pid, _, command = text.partition(" ")
        return f"{command or 'orgkb'} (pid {pid})"

    def busy_error(self) -> IndexBusyError:
        """The error a refused writer reports."""
        holder = self.holder()
        if "serve" in holder:
            return IndexBusyError(
                f"{holder} keeps the index at {self.data_dir} in sync and is its only writer: it picks up changes "
                "by itself (or call its reindex tool); stop it to run `orgkb index` here"
            )
        return IndexBusyError(f"{holder} is indexing {self.data_dir}; wait for it to finish")


def hold_for_process(data_dir: Path, holder: str) -> WriterLock | None:
    """Hold the writer lock for this process's lifetime; None when another process has it.

    Index runs in this process then take turns instead of taking the file lock again.
    """
    lock = WriterLock(data_dir)
    with _held_guard:
        existing = _held.get(lock.data_dir)
        if existing is not None:
            return existing
        if not lock.try_acquire(holder):
            return None
        _held[lock.data_dir] = lock
    return lock


def release_for_process(lock: WriterLock) -> None:
    """Give back a lock taken by `hold_for_process`."""
    with _held_guard:
        if _held.get(lock.data_dir) is lock:
            del _held[lock.data_dir]
    lock.release()


@contextmanager
def exclusive_writer(data_dir: Path, holder: str = "orgkb index") -> Iterator[None]:
    """Be the only writer of ``data_dir`` for the duration; raise `IndexBusyError` if another process is."""
    with _held_guard:
        held = _held.get(data_dir.resolve())
    if held is not None:
        with held.turn:
            yield
        return
    lock = WriterLock(data_dir)
    if not lock.try_acquire(holder):
        raise lock.busy_error()
    try:
        yield
    finally:
        lock.release()

