"""Parsing files in a separate, reused process under a time and memory budget.

python-docx, pypdf, lxml and PyYAML cannot be interrupted: a hostile file can keep them busy
for minutes or make them allocate gigabytes. So `parse_isolated` hands the bytes to a worker
process (started once, reused across files, so ordinary files stay fast) whose address space
is capped (``RLIMIT_AS``) and which is killed when it overruns ``limits.parse_seconds``. The
parsers inside charge the text they produce to ``limits.max_chars`` (see `orgkb.connectors.limits`).

The worker is a fresh interpreter (``python -m orgkb.connectors.formats.worker``) rather than a
fork: the server holds an embedding model and open databases that a fork would carry along.
Requests and answers are pickled over a pair of pipes; the worker's stdout is never used, so
nothing it prints can reach an MCP stdio stream.

Where no worker can be started the file is parsed in this process (logged once): the text
budget still holds, the time and memory caps do not.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from orgkb.connectors.base import DocumentError
from orgkb.connectors.formats.model import ParsedFile, SkipFile
from orgkb.connectors.limits import DocumentLimits, LimitExceeded, check_text_size, text_budget

log = logging.getLogger(__name__)

_STARTUP_SECONDS = 60.0


def parse_limited(name: str, data: bytes, limits: DocumentLimits) -> ParsedFile:
    """Parse in this process under the text budget alone (what the worker runs for each file)."""
    from orgkb.connectors.formats import parse_file

    with text_budget(limits.max_chars):
        try:
            parsed = parse_file(name, data)
        except RecursionError as exc:
            raise DocumentError("document nests too deeply to parse") from exc
    check_text_size(list(parsed.sections), parsed.title, limits)
    return parsed


class ParseWorker:
    """One parser process, started on first use and again after it was killed or died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._answers: Connection | None = None
        self.unavailable: str | None = None

    def parse(self, name: str, data: bytes, limits: DocumentLimits) -> ParsedFile:
        """Parse ``data`` (a file called ``name``) in the worker; raise as `parse_file` would.

        Over ``limits.parse_seconds`` or ``limits.parse_memory_mb`` raises `LimitExceeded`;
        a worker that dies on the file raises `DocumentError`. Either way the next file gets a
        fresh worker.
        """
        with self._lock:
            if not self._ensure_started():
                return parse_limited(name, data, limits)
            assert self._requests is not None and self._answers is not None
            try:
                self._requests.send((name, data, limits.model_dump()))
                ready = self._answers.poll(limits.parse_seconds)
                answer = self._answers.recv() if ready else None
            except (EOFError, OSError) as exc:
                code = self._stop()
                raise DocumentError(f"the parser process died on this file ({_exit_reason(code, exc)})") from exc
            if answer is None:
                self._stop()
                raise LimitExceeded(
                    f"parsing took longer than {limits.parse_seconds:g} s, the limit (limits.parse_seconds)"
                )
            kind, payload = answer
            if kind == "memory":
                self._stop()  # its heap may stay huge and fragmented: start afresh
        if kind == "ok":
            return ParsedFile.model_validate(payload)
        if kind == "skip":
            raise SkipFile(payload)
        if kind in ("limit", "memory"):
            raise LimitExceeded(payload)
        raise DocumentError(payload)

    def close(self) -> None:
        """Stop the worker (it is started again when needed)."""
        with self._lock:
            self._stop()

    def _ensure_started(self) -> bool:
        if self._process is not None and self._process.poll() is None:
            return True
        if self.unavailable is not None:
            return False
        self._stop()
        requests_read, requests_write = os.pipe()
        answers_read, answers_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "orgkb.connectors.formats.worker", str(requests_read), str(answers_write)],
                pass_fds=(requests_read, answers_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                close_fds=True,
                # The worker imports orgkb from wherever this process found it.
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
        except OSError as exc:
            for fd in (requests_read, requests_write, answers_read, answers_write):
                os.close(fd)
            self.unavailable = str(exc)
            log.warning("cannot start a parser process (%s); parsing files without time or memory limits", exc)
            return False
        os.close(requests_read)
        os.close(answers_write)
        self._requests = Connection(requests_write, readable=False)
        self._answers = Connection(answers_read, writable=False)
        # The worker says "ready" once its imports are done, so start-up never counts as parse time.
        if not self._answers.poll(_STARTUP_SECONDS):
            self._stop()
            self.unavailable = "it did not start in time"
            log.warning("the parser process did not start; parsing files without time or memory limits")
            return False
        try:
            self._answers.recv()
        except (EOFError, OSError) as exc:
            code = self._stop()
            self.unavailable = _exit_reason(code, exc)
            log.warning("the parser process failed to start (%s); parsing without time or memory limits", self.unavailable)
            return False
        return True

    def _stop(self) -> int | None:
        for connection in (self._requests, self._answers):
            if connection is not None:
                connection.close()
        self._requests = self._answers = None
        code = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            code = self._process.wait()
        self._process = None
        return code


def _exit_reason(code: int | None, exc: BaseException) -> str:
    if code is not None and code < 0:
        return f"killed by signal {-code}"
    if code is not None:
        return f"exit status {code}"
    return str(exc) or type(exc).__name__


_WORKER = ParseWorker()
atexit.register(_WORKER.close)


def parse_isolated(name: str, data: bytes, limits: DocumentLimits) -> ParsedFile:
    """Parse a file in the shared worker process under ``limits`` (see `ParseWorker.parse`)."""
    return _WORKER.parse(name, data, limits)


# --- the worker side -------------------------------------------------------------------------


def _address_space() -> int | None:
    """This process's current virtual size in bytes (Linux), to put the memory cap above it."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _cap_memory(megabytes: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform
        return
    base = _address_space()
    if base is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = base + megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _uncap_memory() -> None:
    try:
        import resource
    except ImportError:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _answer(name: str, data: bytes, settings: dict[str, Any]) -> tuple[str, Any]:
    limits = DocumentLimits.model_validate(settings)
    _cap_memory(limits.parse_memory_mb)
    try:
        return "ok", parse_limited(name, data, limits).model_dump()
    except MemoryError:
        return "memory", f"parsing needs more than {limits.parse_memory_mb} MB of memory, the limit (limits.parse_memory_mb)"
    except SkipFile as exc:
        return "skip", str(exc)
    except LimitExceeded as exc:
        return "limit", str(exc)
    except DocumentError as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - a parser bug fails this file only
        return "error", f"cannot parse: {type(exc).__name__}: {exc}"
    finally:
        _uncap_memory()


def _serve(requests: Connection, answers: Connection) -> None:
    # Preload the parsers every office file needs, so the first file is not slower.
    import orgkb.connectors.formats  # noqa: F401

    answers.send("ready")
    while True:
        try:
            name, data, settings = requests.recv()
        except EOFError:
            return  # the server closed the pipe or exited
        answer = _answer(name, data, settings)
        del data
        answers.send(answer)


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
