"""Keeping the index current while the server runs: watched folders, polled remotes, catch-up.

One background thread runs every sync through the normal `Indexer` (so only what changed is
embedded). Folder changes are debounced per source: a burst of saves becomes one sync after a
quiet period, and a source that never stops changing still syncs every ``max_delay_seconds``.
Remote sources sync every ``sync_interval`` seconds. At start every source gets one catch-up
sync, in the background: searches answer from the existing index meanwhile.

While live sync is on, this process holds the data directory's writer lock for its whole life
(embedded Chroma must have one writing process). If another process holds it (`orgkb index`,
a second `orgkb serve`), syncing waits and retries, and the status says who holds it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field

from orgkb.connectors.base import WatchableConnector
from orgkb.connectors.registry import build_connector
from orgkb.server.config import LiveSyncConfig
from orgkb.server.errors import IndexBusyError, OrgkbError, describe_storage_error
from orgkb.server.index.indexer import IndexChange, Indexer, IndexSummary, Progress, SourceSummary
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.writer_lock import WriterLock, hold_for_process, release_for_process

if TYPE_CHECKING:
    from orgkb.server.index.folder_watch import FolderWatcher

log = logging.getLogger(__name__)

ALL = "*"  # the scheduling key of a sync of every source (catch-up)


class LiveListener(Protocol):
    """Told about index changes, from the syncing thread: must return quickly."""

    def documents_changed(self, change: IndexChange) -> None:
        """Documents were added, updated or deleted."""

    def sync_finished(self, summary: SourceSummary) -> None:
        """A source finished syncing (see ``summary.error``)."""


class SourceActivity(BaseModel):
    """What live sync does for one source."""

    source: str
    state: Literal["idle", "pending", "syncing"] = "idle"
    watching: list[str] = Field(default_factory=list, description="Local folders watched for changes.")
    watch_error: str | None = None
    poll_seconds: float | None = Field(default=None, description="The source's sync_interval.")
    next_sync: datetime | None = None
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_result: dict[str, int] | None = None
    last_error: str | None = None
    documents_done: int = Field(default=0, description="Documents handled so far in the current sync.")


class LiveStatus(BaseModel):
    """The state of live sync, for the status resource."""

    enabled: bool
    writer: str = Field(description="Who holds the data directory's writer lock, as seen by this server.")
    sources: list[SourceActivity]


class LiveIndex:
    """Background syncing of one `KnowledgeIndex`; also the one way this process writes it."""

    def __init__(self, index: KnowledgeIndex, settings: LiveSyncConfig | None = None) -> None:
        self.index = index
        self.settings = settings or LiveSyncConfig()
        self._listeners: list[LiveListener] = []
        self._cond = threading.Condition()
        self._due: dict[str, float] = {}  # source (or ALL) -> monotonic time it should sync
        self._first_change: dict[str, float] = {}  # when a debounced burst began
        self._run_lock = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._watcher: FolderWatcher | None = None
        self._lock: WriterLock | None = None
        self._lock_holder: str | None = None
        self._activity = {s.name: SourceActivity(source=s.name, poll_seconds=s.sync_interval) for s in index.config.sources}

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between `start` and `stop` when live sync is enabled."""
        return self._thread is not None

    def add_listener(self, listener: LiveListener) -> None:
        """Receive `IndexChange`s and finished syncs (also from `sync_now`)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Start syncing in the background: writer lock, folder watches, catch-up, polling.

        Returns at once; setting up watches on a large tree happens in the sync thread too.
        """
        if not self.settings.enabled or self._thread is not None:
            return
        now = time.monotonic()
        with self._cond:
            self._stopping = False
            if self.settings.catch_up:
                self._due[ALL] = now
                for activity in self._activity.values():
                    activity.state = "pending"
            for source in self.index.config.sources:
                if source.sync_interval:
                    self._due.setdefault(source.name, now + source.sync_interval)
        self._thread = threading.Thread(target=self._main, name="orgkb-live-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and syncing. A sync in progress finishes in the background (the
        index stays consistent at every step) and the writer lock is released after it."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _main(self) -> None:
        try:
            self._take_lock()
            if self.settings.watch:
                self._start_watching()
            self._loop()
        finally:
            if self._lock is not None:
                release_for_process(self._lock)
                self._lock = None

    def _take_lock(self) -> bool:
        if self._lock is None:
            self._lock = hold_for_process(self.index.data_dir, "orgkb serve")
            if self._lock is None:
                holder = WriterLock(self.index.data_dir).holder()
                if holder != self._lock_holder:  # said once, not at every retry
                    log.warning("%s writes the index; live sync waits for it", holder)
                self._lock_holder = holder
            elif self._lock_holder is not None:
                log.warning("the index is free again: live sync resumes")
                self._lock_holder = None
        return self._lock is not None

    def _start_watching(self) -> None:
        # watchdog and the ignore-rule matcher load only when a server starts watching.
        from orgkb.server.index.folder_watch import FolderWatcher

        watcher = FolderWatcher(self.request, ignore_under=[self.index.data_dir])
        self._watcher = watcher
        for source in self.index.config.sources:
            try:
                connector = build_connector(source)
            except Exception as exc:  # noqa: BLE001 - a connector that cannot be built fails its syncs visibly
                log.debug("%s: not watched: %s", source.name, exc)
                continue
            if isinstance(connector, WatchableConnector):
                activity = self._activity[source.name]
                activity.watching = watcher.watch(source.name, connector.watch_paths())
                activity.watch_error = watcher.errors.get(source.name)
        with self._cond:
            if not self._stopping:
                watcher.start()

    # --- scheduling ---------------------------------------------------------------------

    def request(self, source: str, delay: float | None = None) -> None:
        """Sync ``source`` after ``delay`` seconds of quiet (default: the debounce time).

        Every call restarts the quiet period, so a burst of saves becomes one sync, but a
        source is never put off for longer than ``max_delay_seconds`` after its first change.
        """
        delay = self.settings.debounce_seconds if delay is None else delay
        now = time.monotonic()
        with self._cond:
            first = self._first_change.setdefault(source, now)
            self._due[source] = min(now + delay, first + self.settings.max_delay_seconds)
            if source in self._activity:
                self._activity[source].state = "pending"
            self._cond.notify_all()

    def _next_due(self) -> list[str]:
        """Wait until some source is due (or stop); return the due ones."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                due = [name for name, at in self._due.items() if at <= now]
                if due:
                    for name in due:
                        del self._due[name]
                        self._first_change.pop(name, None)
                    return due
                timeout = min(self._due.values()) - now if self._due else None
                self._cond.wait(timeout)
            return []

    def _loop(self) -> None:
        while True:
            due = self._next_due()
            if not due:
                return
            if not self._take_lock():
                retry = time.monotonic() + self.settings.retry_seconds
                with self._cond:
                    for name in due:
                        self._due[name] = min(self._due.get(name, retry), retry)
                continue
            names = None if ALL in due else due
            try:
                summary = self._run(names, full=False, progress=None)
            except Exception as exc:  # noqa: BLE001 - the sync thread must outlive any one failure
                # A full disk or an unwritable data dir is one line (and reaches the listeners), not a traceback.
                storage = describe_storage_error(exc)
                if storage is None:
                    log.exception("live sync of %s failed", ", ".join(names or ["all sources"]))
                else:
                    log.error("live sync of %s stopped: %s", ", ".join(names or ["all sources"]), storage)
                targets = names or [s.name for s in self.index.config.sources]
                summary = IndexSummary(sources=[SourceSummary(source=n, error=storage or str(exc)) for n in targets])
                for result in summary.sources:
                    self._notify(lambda listener, result=result: listener.sync_finished(result))
            self._reschedule(summary)

    def _reschedule(self, summary: IndexSummary) -> None:
        now = time.monotonic()
        with self._cond:
            for result in summary.sources:
                config = self.index.config.source(result.source)
                wait = config.sync_interval
                if wait is None and self._activity[result.source].watch_error:
                    wait = self.settings.retry_seconds  # the folder could not be watched: poll it instead
                if result.error is not None:
                    wait = min(wait or self.settings.retry_seconds, self.settings.retry_seconds)
                if wait and result.source not in self._due:
                    self._due[result.source] = now + wait

    # --- running syncs ------------------------------------------------------------------

    def sync_now(
        self, sources: Iterable[str] | None = None, *, full: bool = False, progress: Progress | None = None
    ) -> IndexSummary:
        """Sync now, in the calling thread, after any sync in progress (the reindex tool).

        Raises `IndexBusyError` when another process holds the writer lock.
        """
        names = list(sources) if sources is not None else None
        if names == []:
            return IndexSummary()
        if self.running and not self._take_lock():
            raise WriterLock(self.index.data_dir).busy_error()
        summary = self._run(names, full=full, progress=progress)
        if self.running:
            self._reschedule(summary)
        return summary

    def _run(self, names: list[str] | None, *, full: bool, progress: Progress | None) -> IndexSummary:
        with self._run_lock:
            targets = names or [s.name for s in self.index.config.sources]
            tracker = _TrackingProgress(self, progress)
            indexer = Indexer(self.index, progress=tracker, on_change=self._changed)
            try:
                return indexer.run(names, full=full)
            except IndexBusyError:
                raise
            except OrgkbError as exc:
                # The whole run failed before any source (e.g. the index was built with another model).
                for name in targets:
                    tracker.end_source(SourceSummary(source=name, error=str(exc)))
                return IndexSummary(sources=[SourceSummary(source=n, error=str(exc)) for n in targets])

    def _changed(self, change: IndexChange) -> None:
        self._notify(lambda listener: listener.documents_changed(change))

    def _notify(self, call: Callable[[LiveListener], None]) -> None:
        for listener in self._listeners:
            try:
                call(listener)
            except Exception:  # noqa: BLE001 - a listener must not break indexing
                log.exception("live sync listener failed")

    # --- status -------------------------------------------------------------------------

    def status(self) -> LiveStatus:
        """What live sync is doing now."""
        if not self.running:
            writer = "live sync is off; this server does not write the index in the background"
        elif self._lock is not None:
            writer = "this server (live sync on)"
        else:
            writer = f"{self._lock_holder}: live sync waits and retries every {self.settings.retry_seconds:g}s"
        with self._cond:
            now_mono, now = time.monotonic(), time.time()
            sources = []
            for name, activity in self._activity.items():
                at = self._due.get(name, self._due.get(ALL))
                next_sync = datetime.fromtimestamp(now + at - now_mono, tz=UTC) if at is not None else None
                sources.append(activity.model_copy(update={"next_sync": next_sync}))
        return LiveStatus(enabled=self.running, writer=writer, sources=sources)

    def activity(self, source: str) -> SourceActivity | None:
        """One source's live sync state."""
        return self._activity.get(source)

    def _record(self, source: str, **fields: object) -> None:
        activity = self._activity.get(source)
        if activity is not None:
            for name, value in fields.items():
                setattr(activity, name, value)

    def _is_due(self, source: str) -> bool:
        with self._cond:
            return source in self._due


class _TrackingProgress:
    """Records each source's sync state in the `LiveIndex` and forwards progress to a caller."""

    def __init__(self, live: LiveIndex, forward: Progress | None) -> None:
        self.live = live
        self.forward = forward

    def start_source(self, source: str) -> None:
        self.live._record(source, state="syncing", documents_done=0, last_started=datetime.now(UTC))
        if self.forward is not None:
            self.forward.start_source(source)

    def advance(self, source: str, documents: int, detail: str) -> None:
        activity = self.live.activity(source)
        if activity is not None:
            activity.documents_done += documents
        if self.forward is not None:
            self.forward.advance(source, documents, detail)

    def end_source(self, summary: SourceSummary) -> None:
        self.live._record(
            summary.source,
            state="pending" if self.live._is_due(summary.source) else "idle",
            last_finished=datetime.now(UTC),
            last_result=summary.counts(),
            last_error=summary.error,
        )
        if self.forward is not None:
            self.forward.end_source(summary)
        self.live._notify(lambda listener: listener.sync_finished(summary))
