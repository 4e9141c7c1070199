"""Live, read-only access to configured databases: list tables, describe one, run a query.

Behind the `list_tables`, `describe_table` and `sql_query` MCP tools (and usable without MCP).
A query passes the statement check (`connectors.sql_guard`), then runs in a read-only
transaction with the source's statement timeout; at most ``limit`` rows come back, with a
``truncated`` flag when there were more.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import threading
import time
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from orgkb.connectors.base import ConnectorError
from orgkb.connectors.sql.config import SqlConfig
from orgkb.connectors.sql.models import TableDescription, TableSummary
from orgkb.server.config import OrgkbConfig
from orgkb.server.errors import NotFoundError, OrgkbError

if TYPE_CHECKING:
    from orgkb.connectors.sql.database import SqlDatabase

# SQLAlchemy and sqlglot (~0.2 s to import) are imported by the methods that use them, so
# registering the database tools costs the server's start-up nothing.


class SqlToolError(OrgkbError):
    """A database tool call failed; the message says why (never with credentials)."""


class TableList(BaseModel):
    """The tables and views of one database source."""

    source: str
    database: str = Field(description="The database, without credentials.")
    tables: list[TableSummary]


class DescribedTable(TableDescription):
    """One table's columns, keys, comments and size."""

    source: str
    database: str


class QueryResult(BaseModel):
    """Rows of a read-only query."""

    source: str
    sql: str = Field(description="The statement that ran, as checked (normalised, comments removed).")
    columns: list[str]
    rows: list[list[Any]] = Field(description="One list of values per row, in `columns` order.")
    row_count: int = Field(description="Rows returned (at most `limit`).")
    limit: int = Field(description="The row cap applied to this query.")
    truncated: bool = Field(description="True when the query had more rows than `limit`: narrow it or aggregate.")
    cells_cut: int = Field(default=0, description="Values longer than the source's max_cell_chars, cut short.")
    elapsed_ms: float


class SqlService:
    """Database tools over the `type = "sql"` sources of one config."""

    def __init__(self, config: OrgkbConfig) -> None:
        self.sources: dict[str, SqlConfig] = {s.name: s for s in config.sources if isinstance(s, SqlConfig)}
        self._databases: dict[str, SqlDatabase] = {}
        self._lock = threading.Lock()

    @property
    def query_sources(self) -> list[str]:
        """Sources that allow `sql_query`."""
        return [name for name, source in self.sources.items() if source.allow_queries]

    def database(self, source: str) -> SqlDatabase:
        """The database of a configured sql source (connections are pooled and shared)."""
        if source not in self.sources:
            known = ", ".join(self.sources) or "none"
            raise NotFoundError(f"no database source named {source!r} (database sources: {known})")
        from orgkb.connectors.sql.database import SqlDatabase

        with self._lock:
            if source not in self._databases:
                self._databases[source] = SqlDatabase(self.sources[source])
            return self._databases[source]

    def list_tables(self, source: str) -> TableList:
        """Every table and view in the source's schemas, with comments."""
        from orgkb.connectors.sql.schema import SchemaReader

        database = self.database(source)
        try:
            with database.read_only(timeout=self.sources[source].statement_timeout) as connection:
                tables = SchemaReader(connection, self.sources[source]).tables()
        except ConnectorError as exc:
            raise SqlToolError(str(exc)) from None
        return TableList(source=source, database=database.label, tables=tables)

    def describe_table(self, source: str, table: str) -> DescribedTable:
        """Columns (types, nullability, comments), keys and a row estimate of one table or view."""
        from orgkb.connectors.sql.database import QueryTimeout
        from orgkb.connectors.sql.schema import SchemaReader

        database = self.database(source)
        config = self.sources[source]
        try:
            with database.read_only(timeout=config.statement_timeout) as connection:
                description = SchemaReader(connection, config).describe(table)
        except LookupError as exc:
            raise NotFoundError(f"{source}: {exc.args[0]}") from None
        except ConnectorError as exc:
            raise SqlToolError(str(exc)) from None
        try:
            with database.read_only(timeout=config.statement_timeout) as connection:
                rows, exact = SchemaReader(connection, config).row_estimate(description)
        except QueryTimeout:
            rows, exact = None, False  # counting a huge table ran past the timeout: describe it without a count
        except ConnectorError as exc:
            raise SqlToolError(str(exc)) from None
        described = description.model_copy(update={"row_estimate": rows, "row_count_exact": exact})
        return DescribedTable(**described.model_dump(), source=source, database=database.label)

    def query(self, source: str, sql: str, limit: int | None = None) -> QueryResult:
        """Run one read-only query and return at most ``limit`` rows (the source's cap applies)."""
        from orgkb.connectors.sql.guard import UnsafeQueryError, checked_read_query, sqlglot_dialect

        database = self.database(source)
        config = self.sources[source]
        if not config.allow_queries:
            raise SqlToolError(f"{source}: SQL queries are turned off for this source (allow_queries = false)")
        try:
            statement = checked_read_query(sql, sqlglot_dialect(database.dialect))
        except UnsafeQueryError as exc:
            raise SqlToolError(f"{source}: query refused: {exc}") from None
        cap = min(limit or config.rows_by_default, config.max_rows)
        started = time.perf_counter()
        try:
            with database.read_only(timeout=config.statement_timeout) as connection:
                streaming = connection.execution_options(stream_results=True, max_row_buffer=cap + 1)
                result = streaming.exec_driver_sql(_driver_text(statement, connection.dialect.paramstyle))
                columns = list(result.keys())
                fetched = result.fetchmany(cap + 1)
                result.close()
        except ConnectorError as exc:
            raise SqlToolError(str(exc)) from None
        elapsed = (time.perf_counter() - started) * 1000
        cells = _CellLimiter(config.max_cell_chars)
        rows = [[cells.value(v) for v in row] for row in fetched[:cap]]
        return QueryResult(
            source=source,
            sql=statement,
            columns=columns,
            rows=rows,
            row_count=len(rows),
            limit=cap,
            truncated=len(fetched) > cap,
            cells_cut=cells.cut,
            elapsed_ms=round(elapsed, 1),
        )

    def schema_text(self, source: str, table: str) -> str:
        """A table's description as text (for the schema resources)."""
        described = self.describe_table(source, table)
        text = described.as_text(described.database)
        if described.row_estimate is not None:
            text += f"\n\nRows: {'' if described.row_count_exact else 'about '}{described.row_estimate}"
        return text

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            for database in self._databases.values():
                database.dispose()
            self._databases.clear()


class _CellLimiter:
    """Turns database values into JSON values, cutting long ones."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.cut = 0

    def value(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, Decimal):
            return _decimal(value)
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, bytes | bytearray | memoryview):
            return self._text("base64:" + base64.b64encode(bytes(value)).decode())
        if isinstance(value, dict | list):
            rendered = json.dumps(value, ensure_ascii=False, default=str)
            return json.loads(rendered) if len(rendered) <= self.max_chars else self._text(rendered)
        if isinstance(value, uuid.UUID | dt.timedelta):
            return str(value)
        return self._text(str(value))

    def _text(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        self.cut += 1
        return text[: self.max_chars] + "…"


def _driver_text(statement: str, paramstyle: str) -> str:
    """The statement as the driver must receive it: no parameters, so a literal % is doubled."""
    return statement.replace("%", "%%") if paramstyle in ("format", "pyformat") else statement


def _decimal(value: Decimal) -> int | float | str:
    """A decimal as a JSON number where that loses nothing, else as its exact text."""
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)
