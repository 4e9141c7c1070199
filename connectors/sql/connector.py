"""Databases (`type = "sql"`): table rows and table descriptions as documents.

Rows are read in pages ordered by their id columns (keyset pagination: ``WHERE id > last
ORDER BY id LIMIT page_size``), each page in its own short read-only transaction. Memory stays
at one page whatever the table's size, and no transaction stays open while the indexer embeds.
A row present during the whole listing is listed exactly once, so rows missing from a complete
listing really were deleted.

With ``updated_at`` a page reads only the ids and stamps; the indexer loads only rows whose
stamp changed, one at a time at first and the rest of the page in one query once several
rows of a page are needed (a first index run reads each page twice, a sync with a few edits
reads a few rows). Without ``updated_at`` a page reads whole rows and their hash is the stamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from sqlalchemy import MetaData, Table, and_, column, select, text, tuple_
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.sql import ColumnElement, FromClause, Select

from orgkb.connectors.base import (
    BaseConnector,
    ConnectorError,
    Document,
    DocumentError,
    DocumentRef,
    Failure,
    Section,
)
from orgkb.connectors.permissions import Permissions
from orgkb.connectors.sql.config import SCHEMA_KEY_PREFIX, SqlConfig, TableConfig
from orgkb.connectors.sql.database import SqlDatabase
from orgkb.connectors.sql.guard import UnsafeQueryError, checked_read_query, sqlglot_dialect
from orgkb.connectors.sql.privileges import query_refusal, write_capabilities, write_warnings
from orgkb.connectors.sql.rows import RowRenderer
from orgkb.connectors.sql.schema import SchemaReader, TableDescription
from orgkb.connectors.sql.table_access import table_allow, table_rules


class TablePlan:
    """The statements that page through one table entry's rows."""

    def __init__(self, connection: Connection, database: SqlDatabase, entry: TableConfig) -> None:
        self.entry = entry
        self.source: FromClause = self._source(connection, database, entry)
        self.columns = [c.name for c in self.source.columns]
        missing = [c for c in [*entry.ids, *(entry.columns_used() or [])] if c not in self.columns]
        if missing:
            raise ConnectorError(
                f"{database.name}: {entry.table or entry.name} has no column(s) {', '.join(sorted(set(missing)))}"
                f" (columns: {', '.join(self.columns)})"
            )
        used = entry.columns_used() or self.columns
        self.id_columns = [self.source.c[c] for c in entry.ids]
        self.full_columns = [self.source.c[c] for c in used]
        narrow = [*entry.ids, entry.updated_at, *([entry.row_groups_column] if entry.row_groups_column else [])] if entry.updated_at else used
        self.list_columns = [self.source.c[c] for c in dict.fromkeys(narrow)]

    @staticmethod
    def _source(connection: Connection, database: SqlDatabase, entry: TableConfig) -> FromClause:
        if entry.table is not None:
            schema, _, name = entry.table.rpartition(".")
            try:
                return Table(name, MetaData(), schema=schema or None, autoload_with=connection)
            except NoSuchTableError:
                raise ConnectorError(f"{database.name}: table {entry.table!r} not found in {database.label}") from None
        try:
            query = checked_read_query(entry.query or "", sqlglot_dialect(database.dialect))
        except UnsafeQueryError as exc:
            raise ConnectorError(f"{database.name}: the query of {entry.name!r} is refused: {exc}") from None
        names = list(connection.execute(text(f"SELECT * FROM ({query}) AS orgkb_q WHERE 1 = 0")).keys())
        return text(query).columns(*[column(n) for n in names]).subquery("orgkb_q")

    @property
    def renders_from_listing(self) -> bool:
        """True when a page already holds whole rows (no ``updated_at``)."""
        return self.entry.updated_at is None

    def page(self, after: tuple[Any, ...] | None, size: int) -> Select[Any]:
        """The next ``size`` rows after id ``after``, in id order."""
        statement = select(*self.list_columns).where(*(c.is_not(None) for c in self.id_columns))
        if after is not None:
            statement = statement.where(self._ids() > self._values(after))
        return statement.order_by(*self.id_columns).limit(size)

    def rows_between(self, first: tuple[Any, ...], last: tuple[Any, ...]) -> Select[Any]:
        """Whole rows with ids from ``first`` to ``last``."""
        ids = self._ids()
        return select(*self.full_columns).where(ids >= self._values(first), ids <= self._values(last)).order_by(*self.id_columns)

    def row(self, ids: Sequence[Any]) -> Select[Any]:
        """The whole row with these id values."""
        return select(*self.full_columns).where(and_(*(c == v for c, v in zip(self.id_columns, ids, strict=True))))

    def ids_from_key(self, parts: Sequence[str]) -> list[Any]:
        """Typed id values from a document key's parts (for loading a row outside a listing)."""
        return [_coerce(c, unquote(p)) for c, p in zip(self.id_columns, parts, strict=True)]

    def _ids(self) -> ColumnElement[Any]:
        return self.id_columns[0] if len(self.id_columns) == 1 else tuple_(*self.id_columns)

    def _values(self, values: tuple[Any, ...]) -> Any:
        return values[0] if len(values) == 1 else tuple_(*values)


class _Page:
    """The rows of the current listing page, so `load` can answer without another query."""

    def __init__(self, plan: TablePlan, renderer: RowRenderer, rows: list[RowMapping]) -> None:
        self.plan = plan
        self.renderer = renderer
        self.rows = rows
        self.positions = {renderer.key(r): i for i, r in enumerate(rows)}
        self.full: dict[str, RowMapping] = {}
        if plan.renders_from_listing:
            self.full = {renderer.key(r): r for r in rows}
        self.fetches = 0


class SqlConnector(BaseConnector):
    """Indexes configured tables' rows and every table's description."""

    def __init__(self, config: SqlConfig) -> None:
        self.config = config
        self.database = SqlDatabase(config)
        self._page: _Page | None = None
        self._plans: dict[str, tuple[TablePlan, RowRenderer]] = {}
        self._rules = table_rules(config)

    def close(self) -> None:
        """Dispose of the connection pool this sync used."""
        self.database.dispose()

    def check(self) -> list[str]:
        self.database.ping()
        with self.database.read_only(timeout=max(self.config.statement_timeout, 30.0)) as connection:
            for entry in self.config.tables:
                TablePlan(connection, self.database, entry)
            capabilities = write_capabilities(connection, self.database)
        warnings = write_warnings(capabilities, self.database)
        refusal = query_refusal(capabilities, self.config)
        if refusal is not None:
            raise ConnectorError(refusal)
        if not self.database.supports_read_only:
            warnings.append(
                f"{self.database.dialect} gets no read-only transaction from orgkb: only the query check and the "
                "database role keep it read-only; connect with a SELECT-only account"
            )
        return warnings

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        with self.database.read_only() as connection:
            self._plan_tables(connection)
            descriptions = self._describe_all(connection) if self.config.schema_documents else []
        for description in descriptions:
            document = self.schema_document(description)
            # Its permissions are in the stamp, so a changed `allow` reaches a described table too.
            granted = ",".join(sorted(document.permissions.principals)) if document.permissions else "-"
            yield DocumentRef(key=document.key, version=f"{document.content_hash[:24]}:{granted}", document=document)
        for plan, renderer in list(self._plans.values()):
            yield from self._list_rows(plan, renderer)
        self._page = None

    def load(self, ref: DocumentRef) -> Document:
        if ref.document is not None:
            return ref.document
        prefix, _, rest = ref.key.partition("/")
        if not self._plans:
            with self.database.read_only() as connection:
                self._plan_tables(connection)
        if prefix not in self._plans:
            raise DocumentError(f"{ref.key}: no configured table {prefix!r}")
        plan, renderer = self._plans[prefix]
        row = self._row_for(ref.key, plan, rest.split("/"))
        if row is None:
            raise DocumentError("the row no longer exists in the database")
        return renderer.document(row)

    # --- rows ---------------------------------------------------------------------------

    def _plan_tables(self, connection: Connection) -> None:
        """Reflect every configured table or query (checking its columns exist)."""
        self._plans.clear()
        for entry in self.config.tables:
            plan = TablePlan(connection, self.database, entry)
            columns = [c.name for c in plan.full_columns]
            self._plans[entry.key_prefix] = (plan, RowRenderer(self.config.name, entry, columns, self.database.label))

    def _list_rows(self, plan: TablePlan, renderer: RowRenderer) -> Iterator[DocumentRef]:
        after: tuple[Any, ...] | None = None
        size = self.config.page_size
        while True:
            with self.database.read_only() as connection:
                rows = list(connection.execute(plan.page(after, size)).mappings())
            if not rows:
                return
            self._page = _Page(plan, renderer, rows)
            previous = None
            for row in rows:
                key = renderer.key(row)
                if key == previous:
                    # Rows come in id order, so a repeated id follows its twin: `id` is not unique.
                    yield Failure(source=self.config.name, key=key, message="skipped: another row has the same id", skipped=True)
                    continue
                previous = key
                yield DocumentRef(key=key, version=renderer.version(row))
            if len(rows) < size:
                return
            after = renderer.id_values(rows[-1])

    def _row_for(self, key: str, plan: TablePlan, parts: list[str]) -> RowMapping | None:
        page = self._page
        if page is None or page.plan is not plan or key not in page.positions:
            with self.database.read_only() as connection:
                return connection.execute(plan.row(plan.ids_from_key(parts))).mappings().first()
        if key not in page.full:
            ids = page.renderer.id_values(page.rows[page.positions[key]])
            # One changed row costs one lookup; from the second on, fetch the rest of the page at once.
            if page.fetches == 0:
                statement = plan.row(ids)
            else:
                statement = plan.rows_between(ids, page.renderer.id_values(page.rows[-1]))
            page.fetches += 1
            with self.database.read_only() as connection:
                fetched = list(connection.execute(statement).mappings())
            page.full = {page.renderer.key(r): r for r in fetched}
        return page.full.get(key)

    # --- table descriptions -------------------------------------------------------------

    def _describe_all(self, connection: Connection) -> list[TableDescription]:
        reader = SchemaReader(connection, self.config)
        return [reader.describe(table.name) for table in reader.tables()]

    def schema_document(self, description: TableDescription) -> Document:
        """The document describing one table: ``schema/<table>``."""
        kind = "View" if description.kind == "view" else "Table"
        allowed = table_allow(self._rules, description.name)
        permissions = None
        if allowed is not None:
            # Who may read the table's rows may read its description (its columns, comments).
            permissions = Permissions(principals=allowed, rule=f"table {description.name}: allow = {sorted(allowed)}")
        return Document(
            source=self.config.name,
            key=f"{SCHEMA_KEY_PREFIX}/{description.name}",
            title=f"{kind} {description.name}" + (f": {description.comment}" if description.comment else ""),
            uri=f"{self.database.label}/{description.name}",
            sections=[Section(text=description.as_text(self.database.label))],
            metadata={"table": description.name, "file_type": "schema"},
            mime_type="text/plain",
            permissions=permissions,
        )


def _coerce(column: ColumnElement[Any], value: str) -> Any:
    """A key part back in its column's Python type, where the type is known."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if kind is int:
        return int(value)
    if kind is float:
        return float(value)
    if kind is Decimal:
        return Decimal(value)
    if kind in (dt.datetime, dt.date, dt.time):
        return kind.fromisoformat(value)
    return value
