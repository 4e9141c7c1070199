"""What is wrong right now, said so a person can fix it: the server's list of problems.

A config that cannot be used, a source disabled at start (its folder is missing) or failing to
sync (a wiki that is down, a wrong password), a data directory that cannot be written, an index
that is still empty: each is one `Problem` with a one-line message and the fix. The list is
computed once when the server starts and again after every sync, and every front end shows it
(the MCP server in its instructions, every tool result and `orgkb://status`; the CLI in
`status`). A problem never stops the server: the sources that work keep serving.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from orgkb.server.app.access import Access
from orgkb.server.config import OrgkbConfig
from orgkb.server.errors import STORAGE_FIX, describe_storage_error
from orgkb.server.index.indexer import IndexChange, SourceSummary
from orgkb.server.store.catalog import Catalog

log = logging.getLogger(__name__)

ProblemKind = Literal["config", "source", "storage", "empty_index"]

RESTART = "then restart the MCP server (or your MCP client)"


class Problem(BaseModel):
    """One thing that keeps orgkb from answering fully, and how to fix it."""

    kind: ProblemKind
    source: str | None = Field(default=None, description="The source concerned, for source problems.")
    message: str = Field(description="What is wrong, in one line.")
    fix: str = Field(description="What to do about it, in one line.")

    def line(self) -> str:
        """The problem and its fix as one line."""
        return f"{self.message} (fix: {self.fix})"


class Health(BaseModel):
    """Every current problem, and where the server's log is."""

    problems: list[Problem] = Field(default_factory=list)
    log_file: str | None = Field(default=None, description="The log file of this server, when it writes one.")

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def notice(self) -> str | None:
        """All problems as one short text for a tool result or instructions; None when all is well."""
        if not self.problems:
            return None
        lines = [f"- {p.line()}" for p in self.problems]
        if self.log_file:
            lines.append(f"(details in the server log: {self.log_file})")
        return "orgkb problems right now:\n" + "\n".join(lines)

    def visible_to(self, access: Access) -> Health:
        """The problems a client with ``access`` may hear of: none about sources hidden from it."""
        problems = [p for p in self.problems if p.source is None or access.can_see(p.source)]
        return Health(problems=problems, log_file=self.log_file if not access.limited else None)

    def disabled_reason(self, source: str) -> str | None:
        """Why ``source`` is not served, when it is disabled."""
        for problem in self.problems:
            if problem.kind == "source" and problem.source == source:
                return problem.message
        return None


def storage_problem(data_dir: Path) -> str | None:
    """Why the index cannot be written at ``data_dir`` (no permission, read-only, disk full), or None."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # Creating a file is the only portable test (os.access lies on Windows and for root).
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        return describe_storage_error(exc) or f"cannot write {data_dir}: {exc}"
    return None


def index_command(config_path: str | None) -> str:
    """The command that fills the index for this config."""
    return f"orgkb --config {config_path} index" if config_path else "orgkb index"


class HealthMonitor:
    """The current `Health` of one server: computed at start, refreshed after each sync.

    ``catalog`` opens the index catalog (called on each refresh, so one that cannot be opened is
    reported instead of raised). It is a live-sync listener (`sync_finished` refreshes it), so a source that comes back or an
    index that fills up stops being reported without a restart.
    """

    def __init__(
        self,
        config: OrgkbConfig,
        catalog: Callable[[], Catalog] | None,
        *,
        config_error: str | None = None,
        config_path: str | None = None,
        storage_error: str | None = None,
        log_file: Path | None = None,
        can_reindex: bool = True,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.config_error = config_error
        self.config_path = config_path
        self.storage_error = storage_error
        self.log_file = str(log_file) if log_file else None
        self.can_reindex = can_reindex
        self._lock = threading.Lock()
        # Sync errors the catalog could not record (a full disk), by source, from the last sync of each.
        self._sync_errors: dict[str, str] = {}
        self._current = Health(log_file=self.log_file)
        self.refresh()

    @property
    def current(self) -> Health:
        """The problems as of the last refresh."""
        with self._lock:
            return self._current

    def refresh(self) -> Health:
        """Compute the problems again from the config, the catalog and the data directory."""
        problems = self._config_problems()
        if self.storage_error:
            problems.append(Problem(kind="storage", message=f"the index cannot be updated: {self.storage_error}",
                                    fix=f"{STORAGE_FIX}; {RESTART}. Search still answers from what is indexed"))
        problems.extend(self._index_problems())
        health = Health(problems=problems, log_file=self.log_file)
        with self._lock:
            self._current = health
        return health

    def _config_problems(self) -> list[Problem]:
        if self.config_error:
            return [Problem(kind="config", message=f"orgkb has no usable config: {self.config_error}",
                            fix=f"fix the config (or run `orgkb init FOLDER` to write one); {RESTART}")]
        problems = [
            Problem(kind="source", source=s.name, message=f"source {s.name!r} is disabled: {s.reason}",
                    fix=f"create or mount it, or remove the source from the config; {RESTART}")
            for s in self.config.unavailable_sources
        ]
        if not self.config.sources and not problems:
            problems.append(Problem(kind="config", message="the config has no [[sources]]",
                                    fix=f"add a [[sources]] entry (or run `orgkb init FOLDER`); {RESTART}"))
        return problems

    def _index_problems(self) -> list[Problem]:
        if self.catalog is None or self.config_error or not self.config.sources:
            return []
        problems = []
        try:
            catalog = self.catalog()
            counts = catalog.counts()
            for source in self.config.sources:
                error = catalog.source_state(source.name).last_error or self._sync_errors.get(source.name)
                if error:
                    problems.append(Problem(
                        kind="source", source=source.name, message=f"source {source.name!r} did not sync: {error}",
                        fix="check it with `orgkb check`; what was indexed before is still served",
                    ))
        except Exception as exc:  # noqa: BLE001 - a catalog that cannot be read is itself the problem to report
            log.warning("cannot read the index catalog: %s", exc)
            message = describe_storage_error(exc) or str(exc)
            return [Problem(kind="storage", message=f"the index cannot be read: {message}", fix=STORAGE_FIX)]
        if not any(counts.get(s.name, (0, 0))[0] for s in self.config.sources):
            fill = index_command(self.config_path)
            fix = f"run `{fill}`" + (" or call the `reindex` tool" if self.can_reindex else "")
            problems.append(Problem(kind="empty_index", message="the index is empty: nothing has been indexed yet", fix=fix))
        return problems

    # --- live-sync listener -------------------------------------------------------------

    def documents_changed(self, change: IndexChange) -> None:
        """Nothing to do per change; the sync's end refreshes."""

    def sync_finished(self, summary: SourceSummary) -> None:
        """Refresh after every sync: its errors, or the index it filled."""
        with self._lock:
            if summary.error:
                self._sync_errors[summary.source] = summary.error
            else:
                self._sync_errors.pop(summary.source, None)
        self.refresh()
