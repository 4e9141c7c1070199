"""One writer per data directory: an fcntl lock on ``<data_dir>/index.lock``.

Embedded Chroma is not safe for two processes writing the same folder, so whoever writes the
index holds this lock: `orgkb index` for one run, `orgkb serve` with live sync for its whole
life. Inside the holding process, index runs take turns through a thread lock. The lock file
names its holder (pid and command), so a refused writer can say who to wait for.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orgkb.server.errors import IndexBusyError

LOCK_NAME = "index.lock"

# Data directories whose lock this process holds for its lifetime (`orgkb serve`).
_held: dict[Path, WriterLock] = {}
_held_guard = threading.Lock()


class WriterLock:
    """The writer lock of one data directory, held by this process while acquired."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.path = self.data_dir / LOCK_NAME
        self._fd: int | None = None
        # Index runs inside the holding process take turns on this.
        self.turn = threading.Lock()

    @property
    def held(self) -> bool:
        """True while this process holds the lock."""
        return self._fd is not None

    def try_acquire(self, holder: str) -> bool:
        """Take the lock without waiting; record ``holder`` in the file. False when another process has it."""
        if self._fd is not None:
            return True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: the file names the current holder until we own it.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {holder}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> str:
        """Who holds the lock, as written in the lock file (``pid command``), or "another process"."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
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

