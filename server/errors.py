"""The few errors a user sees. Each message says what failed and what to do about it."""

import errno
import sqlite3


class OrgkbError(Exception):
    """Base of every error orgkb reports to a user as one line (no traceback)."""


class ConfigError(OrgkbError):
    """The config file is missing, unreadable or invalid."""


class IndexMismatchError(OrgkbError):
    """The index was built with another embedding model than the configured one."""


class NotFoundError(OrgkbError):
    """A document, source or uri that the index does not have."""


class IndexBusyError(OrgkbError):
    """Another process holds the data directory's writer lock (it is indexing, or serving with live sync)."""


class InvalidArgumentError(OrgkbError):
    """A request's argument is out of range or malformed; the message names it and the rule."""


class StorageError(OrgkbError):
    """The data directory cannot be written: no permission, a read-only disk, or no space left."""


# OS errors that mean "this folder cannot hold the index", as opposed to a bug.
_STORAGE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EEXIST}
_SQLITE_STORAGE_MESSAGES = ("database or disk is full", "readonly database", "unable to open database file", "disk i/o error")

STORAGE_FIX = "set `data_dir` in the config (or $ORGKB_DATA_DIR) to a writable folder with free space"


def describe_storage_error(exc: BaseException) -> str | None:
    """One line for an error that means the data directory is unusable, or None for any other error."""
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        where = f" {exc.filename}" if exc.filename else ""
        what = "no space left on the disk" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "cannot write"
        return f"{what}{where} ({exc.strerror}): {STORAGE_FIX}"
    if isinstance(exc, sqlite3.Error) and any(m in str(exc).lower() for m in _SQLITE_STORAGE_MESSAGES):
        return f"cannot write the index catalog ({exc}): {STORAGE_FIX}"
    return None
