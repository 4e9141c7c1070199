"""One database: its connections, the read-only transaction every statement runs in, and errors
that never carry the password.

The second read-only layer lives here (the first is `sql_guard`, the third the database role):
every connection orgkb opens reads inside a read-only transaction that is always rolled back,
with a statement timeout where one is asked for.

- PostgreSQL: ``SET TRANSACTION READ ONLY`` as the transaction's first statement (it cannot be
  switched back once a query ran) and ``SET LOCAL statement_timeout``.
- SQLite: the file is opened with ``mode=ro`` and ``PRAGMA query_only=1``; a progress handler
  interrupts a statement that runs past its deadline.

A caller's query (``read_only(caller_sql=True)``) also gets: PostgreSQL ``pg_catalog`` first on
the search path, so a table or function an admin named like a built-in never shadows it;
SQLite limits on the size of any one value and LIKE pattern (`orgkb.connectors.sql.bounds`), so
no single function call can allocate without bound or outrun the progress handler.
- MySQL/MariaDB (not tested here): ``START TRANSACTION READ ONLY`` and ``max_execution_time``.
- Other dialects get no read-only transaction; `orgkb check` says so.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from orgkb.connectors.base import ConnectorError, CredentialsError
from orgkb.connectors.http import secret_from_env
from orgkb.connectors.sql.bounds import CUT_FUNCTION, SQLITE_MAX_LIKE_PATTERN, SQLITE_MAX_VALUE_BYTES, sqlite_cut
from orgkb.connectors.sql.config import SqlConfig

READ_ONLY_DIALECTS = frozenset({"postgresql", "sqlite", "mysql", "mariadb"})

_AUTH_STATES = {"28P01", "28000"}
_AUTH_WORDS = ("password authentication failed", "no password supplied", "access denied for user", "authentication failed")
_TIMEOUT_WORDS = ("statement timeout", "interrupted", "max_execution_time", "maximum statement execution time")
_SQLITE_CALLER_LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: SQLITE_MAX_VALUE_BYTES,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: SQLITE_MAX_LIKE_PATTERN,
}


class QueryError(ConnectorError):
    """The database refused or failed one statement; the connection itself is fine."""


class QueryTimeout(QueryError):
    """A statement ran past its timeout and was cancelled."""


class SqlDatabase:
    """Connections to one configured database, opened lazily and shared between threads."""

    def __init__(self, config: SqlConfig) -> None:
        self.config = config
        self.name = config.name
        self.url = config.sqlalchemy_url
        self.dialect = self.url.get_backend_name()
        self._engine: Engine | None = None
        self._secret: str | None = None
        self._lock = threading.Lock()

    # --- connecting ---------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The database as a person names it, without user, password or driver (``postgresql://host:5432/crm``)."""
        return URL.create(self.dialect, host=self.url.host, port=self.url.port, database=self.url.database).render_as_string()

    @property
    def supports_read_only(self) -> bool:
        """Whether statements run in a read-only transaction (else only the guard and the role protect)."""
        return self.dialect in READ_ONLY_DIALECTS

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (created on first use; reads the password from its env var)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Engine:
        self._secret = secret_from_env(self.config.password_env, self.name, "database password")
        common: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
        if self.dialect == "sqlite":
            return create_engine("sqlite+pysqlite://", creator=self._sqlite_connect, poolclass=QueuePool, **common)
        url = self.url.set(password=self._secret) if self._secret else self.url
        connect_args: dict[str, Any] = {}
        if self.dialect == "postgresql":
            connect_args = {"connect_timeout": max(1, math.ceil(self.config.connect_timeout)), "application_name": "orgkb"}
        elif self.dialect in ("mysql", "mariadb"):
            connect_args = {"connect_timeout": max(1, math.ceil(self.config.connect_timeout))}
        try:
            return create_engine(url, connect_args=connect_args, pool_size=4, max_overflow=4, **common)
        except (SQLAlchemyError, ImportError) as exc:
            raise ConnectorError(f"{self.name}: cannot use {self.label}: {self.scrub(str(exc))}") from None

    def _sqlite_connect(self) -> sqlite3.Connection:
        path = Path(self.url.database or "")
        if not path.is_file():
            raise sqlite3.OperationalError(f"database file not found: {path}")
        # mode=ro: SQLite itself refuses every write to this connection, whatever the statement.
        connection = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro", uri=True, check_same_thread=False, timeout=self.config.connect_timeout
        )
        connection.execute("PRAGMA query_only = 1")
        connection.create_function(CUT_FUNCTION, 2, sqlite_cut, deterministic=True)
        return connection

    def dispose(self) -> None:
        """Close pooled connections."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # --- reading ------------------------------------------------------------------------

    @contextmanager
    def read_only(self, *, timeout: float | None = None, caller_sql: bool = False) -> Iterator[Connection]:
        """A connection inside a read-only transaction that is always rolled back.

        ``timeout`` (seconds) cancels any statement that runs longer. ``caller_sql``: the
        connection runs a query someone else wrote (adds the bounds in the module doc). Errors
        come out as `ConnectorError` subclasses whose messages never contain the password.
        """
        try:
            connection = self.engine.connect()
        except SQLAlchemyError as exc:
            raise self.connect_error(exc) from None
        try:
            with connection:
                self._begin_read_only(connection, timeout, caller_sql)
                try:
                    yield connection
                finally:
                    self._end(connection)
        except SQLAlchemyError as exc:
            raise self.query_error(exc, timeout) from None

    def _begin_read_only(self, connection: Connection, timeout: float | None, caller_sql: bool) -> None:
        if self.dialect == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            if timeout is not None:
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
            # Until a query takes a snapshot, SET transaction_read_only = off still works; after it, never.
            connection.exec_driver_sql("SELECT 1")
            if caller_sql:
                # Built-ins win over same-named objects whatever the role's search_path says.
                connection.exec_driver_sql(
                    "SELECT pg_catalog.set_config('search_path', pg_catalog.concat_ws(', ', 'pg_catalog',"
                    " NULLIF(pg_catalog.current_setting('search_path'), '')), true)"
                )
        elif self.dialect == "sqlite":
            raw = connection.connection.driver_connection
            if caller_sql:
                connection.info["orgkb_limits"] = {k: raw.setlimit(k, v) for k, v in _SQLITE_CALLER_LIMITS.items()}
            if timeout is not None:
                deadline = time.monotonic() + timeout
                # Called every 10,000 VM steps; a true result interrupts the running statement.
                raw.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        elif self.dialect in ("mysql", "mariadb"):
            if timeout is not None:
                connection.exec_driver_sql(f"SET SESSION max_execution_time = {max(1, int(timeout * 1000))}")
            connection.exec_driver_sql("START TRANSACTION READ ONLY")

    def _end(self, connection: Connection) -> None:
        with suppress(SQLAlchemyError):
            connection.rollback()
        if self.dialect == "sqlite":
            with suppress(Exception):
                raw = connection.connection.driver_connection
                raw.set_progress_handler(None, 0)
                for category, value in connection.info.pop("orgkb_limits", {}).items():
                    raw.setlimit(category, value)

    def ping(self) -> None:
        """Connect and run ``SELECT 1``; raise `ConnectorError`/`CredentialsError` when that fails."""
        with self.read_only(timeout=self.config.connect_timeout) as connection:
            connection.execute(text("SELECT 1")).scalar()

    # --- errors -------------------------------------------------------------------------

    def scrub(self, message: str) -> str:
        """``message`` with the password (in any form it was given) replaced by ``***``."""
        if self._secret:
            for form in {self._secret, quote(self._secret, safe=""), quote(self._secret)}:
                message = message.replace(form, "***")
        return message

    def connect_error(self, exc: BaseException) -> ConnectorError:
        """A failure to connect as a user-facing error (credentials or reachability)."""
        if isinstance(exc, ConnectorError):
            return exc
        message = self.scrub(_driver_message(exc))
        if _is_auth_failure(exc, message):
            hint = f" and the password in ${self.config.password_env}" if self.config.password_env else ""
            return CredentialsError(
                f"{self.name}: {self.label} refused the login: {message}. Check the user in `url`{hint}."
            )
        return ConnectorError(f"{self.name}: cannot connect to {self.label}: {message}")

    def query_error(self, exc: BaseException, timeout: float | None = None) -> ConnectorError:
        """A failed statement as a user-facing error that names what the database said."""
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return self.connect_error(exc)
        message = self.scrub(_driver_message(exc))
        if timeout is not None and any(word in message.lower() for word in _TIMEOUT_WORDS):
            return QueryTimeout(
                f"{self.name}: the query ran longer than the statement timeout ({timeout:g} s) and was cancelled"
            )
        if _is_auth_failure(exc, message):
            return self.connect_error(exc)
        if self.dialect == "sqlite" and ("too big" in message or "too complex" in message):
            message += (
                f" (orgkb bounds a query's values to {SQLITE_MAX_VALUE_BYTES:,} bytes and LIKE patterns to "
                f"{SQLITE_MAX_LIKE_PATTERN:,} characters: build smaller values)"
            )
        return QueryError(f"{self.name}: the database refused the query: {message}")


def _driver_message(exc: BaseException) -> str:
    """The database's own words, without SQLAlchemy's statement echo and links."""
    original = getattr(exc, "orig", None) or exc
    diag = getattr(original, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary and getattr(original, "sqlstate", None) not in _AUTH_STATES:
        # psycopg: the message without the "LINE 1: ..." echo, which quotes orgkb's cursor wrapper.
        parts = [primary, getattr(diag, "message_detail", None), getattr(diag, "message_hint", None)]
        return " ".join(p.strip() for p in parts if p)[:600]
    lines = [line.strip() for line in str(original).strip().splitlines() if line.strip()]
    return " ".join(lines[:3])[:600] if lines else type(original).__name__


def _is_auth_failure(exc: BaseException, message: str) -> bool:
    original = getattr(exc, "orig", None) or exc
    state = getattr(original, "sqlstate", None)
    return state in _AUTH_STATES or any(word in message.lower() for word in _AUTH_WORDS)
