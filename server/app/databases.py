"""Live, read-only access to configured databases: list tables, describe one, run a query.

Behind the `list_tables`, `describe_table` and `sql_query` MCP tools (and usable without MCP).
A query passes the statement check (`orgkb.connectors.sql.guard`, an allow-list), then runs in a
read-only transaction with the source's statement timeout, bounded in the database
(`orgkb.connectors.sql.bounds`); at most ``limit`` rows come back, with a ``truncated`` flag when
there were more. Over an account that can write, `query` is refused unless the source sets
``allow_write_capable_role`` (`orgkb.connectors.sql.privileges`).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from orgkb.connectors.base import ConnectorError
from orgkb.connectors.sql.config import SqlConfig
from orgkb.connectors.sql.models import TableDescription, TableSummary
from orgkb.server.config import OrgkbConfig
from orgkb.server.errors import NotFoundError, OrgkbError

if TYPE_CHECKING:
    from orgkb.connectors.sql.database import SqlDatabase
    from orgkb.connectors.sql.table_access import TableRule

# SQLAlchemy and sqlglot (~0.2 s to import) are imported by the methods that use them, so
# registering the database tools costs the server's start-up nothing.

PRIVILEGE_RECHECK_S = 300.0
"""How long a source's account check is trusted before `query` runs it again."""


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
    size_capped: bool = Field(
        default=False, description="True when rows stopped because the result reached the source's max_result_chars."
    )
    elapsed_ms: float


class SqlService:
    """Database tools over the `type = "sql"` sources of one config."""

    def __init__(self, config: OrgkbConfig) -> None:
        self.sources: dict[str, SqlConfig] = {s.name: s for s in config.sources if isinstance(s, SqlConfig)}
        self._databases: dict[str, SqlDatabase] = {}
        self._refusals: dict[str, tuple[float, str | None]] = {}
        self._rules: dict[str, list[TableRule]] = {}
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

    def tables_read(self, source: str, sql: str) -> list[str]:
        """The table names ``sql`` reads (for the caller's table permissions); refused as
        `query` would refuse it when it is not a single read query."""
        from orgkb.connectors.sql.guard import UnsafeQueryError, referenced_tables, sqlglot_dialect

        try:
            return referenced_tables(sql, sqlglot_dialect(self.database(source).dialect))
        except UnsafeQueryError as exc:
            raise SqlToolError(f"{source}: query refused: {exc}") from None

    def table_rules(self, source: str) -> list[TableRule]:
        """The `allow` and `row_groups_column` rules of the source's table entries."""
        from orgkb.connectors.sql.table_access import table_rules

        with self._lock:
            if source not in self._rules:
                self._rules[source] = table_rules(self.sources[source])
            return self._rules[source]

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
        from orgkb.connectors.sql.bounds import read_bounded
        from orgkb.connectors.sql.guard import UnsafeQueryError, checked_read_query, sqlglot_dialect

        database = self.database(source)
        config = self.sources[source]
        if not config.allow_queries:
            raise SqlToolError(f"{source}: SQL queries are turned off for this source (allow_queries = false)")
        try:
            statement = checked_read_query(sql, sqlglot_dialect(database.dialect))
        except UnsafeQueryError as exc:
            raise SqlToolError(f"{source}: query refused: {exc}") from None
        refusal = self._refusal(source)
        if refusal is not None:
            raise SqlToolError(refusal)
        cap = min(limit or config.rows_by_default, config.max_rows)
        started = time.perf_counter()
        try:
            with database.read_only(timeout=config.statement_timeout, caller_sql=True) as connection:
                bounded = read_bounded(
                    connection, database.dialect, statement, max_rows=cap,
                    max_cell_chars=config.max_cell_chars, max_result_chars=config.max_result_chars,
                )
        except ConnectorError as exc:
            raise SqlToolError(str(exc)) from None
        elapsed = (time.perf_counter() - started) * 1000
        return QueryResult(
            source=source,
            sql=statement,
            columns=bounded.columns,
            rows=bounded.rows,
            row_count=len(bounded.rows),
            limit=cap,
            truncated=bounded.truncated,
            cells_cut=bounded.cells_cut,
            size_capped=bounded.size_capped,
            elapsed_ms=round(elapsed, 1),
        )

    def _refusal(self, source: str) -> str | None:
        """Why `query` is refused for ``source``'s account (None: it may run); rechecked now and then."""
        from orgkb.connectors.sql.privileges import query_refusal, write_capabilities

        config = self.sources[source]
        if config.allow_write_capable_role:
            return None
        with self._lock:
            checked = self._refusals.get(source)
        if checked is not None and time.monotonic() - checked[0] < PRIVILEGE_RECHECK_S:
            return checked[1]
        database = self.database(source)
        try:
            with database.read_only(timeout=config.statement_timeout) as connection:
                refusal = query_refusal(write_capabilities(connection, database), config)
        except ConnectorError as exc:
            raise SqlToolError(str(exc)) from None
        with self._lock:
            self._refusals[source] = (time.monotonic(), refusal)
        return refusal

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
