"""What a database holds: its tables and views, their columns, keys and comments.

The same descriptions feed the schema documents the connector indexes (so "which table holds
invoices" finds the table) and the `list_tables` / `describe_table` MCP tools.

SQLite has no ``COMMENT ON``: a ``-- comment`` at the end of a column's line in the
``CREATE TABLE`` statement describes that column, and ``--`` comments before the first column
describe the table. A table entry's ``comment`` / ``comments`` in the config add to (and
override) what the database says, for any dialect.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Inspector
from sqlalchemy.engine.reflection import ObjectKind
from sqlalchemy.exc import SQLAlchemyError

from orgkb.connectors.sql.config import SqlConfig, TableConfig
from orgkb.connectors.sql.models import ColumnInfo, ForeignKeyInfo, TableDescription, TableKind, TableSummary

_CONSTRAINT_WORDS = ("constraint", "primary", "foreign", "unique", "check", ")")


class SchemaReader:
    """Reads table descriptions over one (read-only) connection."""

    def __init__(self, connection: Connection, config: SqlConfig) -> None:
        self.connection = connection
        self.config = config
        self.inspector: Inspector = inspect(connection)
        self.dialect = connection.dialect.name
        self.default_schema = self.inspector.default_schema_name
        self.schemas: list[str | None] = list(config.schemas) if config.schemas else [self.default_schema]
        # Comments are read once per schema, not once per table (a database may have thousands).
        self._comment_cache: dict[str | None, dict[str, str]] = {}
        self._sqlite_cache: dict[str, tuple[str | None, dict[str, str]]] | None = None

    def qualified(self, schema: str | None, table: str) -> str:
        """``table`` in the default schema, ``schema.table`` elsewhere."""
        return table if schema in (None, self.default_schema) else f"{schema}.{table}"

    def split(self, name: str) -> tuple[str | None, str]:
        """``schema.table`` (or ``table``) into its parts, the schema defaulting to the first listed."""
        schema, dot, table = name.rpartition(".")
        if dot and schema:
            return schema, table
        return self.schemas[0], name

    def tables(self) -> list[TableSummary]:
        """Every table and view in the configured schemas, sorted by name."""
        out: list[TableSummary] = []
        for schema in self.schemas:
            comments = self._table_comments(schema)
            for kind, names in (("table", self.inspector.get_table_names(schema)), ("view", self._views(schema))):
                for table in names:
                    out.append(self._summary(schema, table, kind, comments.get(table)))  # type: ignore[arg-type]
        return sorted(out, key=lambda t: t.name)

    def resolve(self, name: str) -> tuple[str | None, str, TableKind]:
        """The schema, table and kind that ``name`` means; `LookupError` names the known tables."""
        schema, table = self.split(name.strip().strip('"'))
        if schema not in self.schemas:
            raise LookupError(f"schema {schema!r} is not configured for this source (schemas: {', '.join(map(str, self.schemas))})")
        tables = set(self.inspector.get_table_names(schema))
        views = set(self._views(schema))
        for candidate in (table, *(n for n in sorted(tables | views) if n.lower() == table.lower())):
            if candidate in tables:
                return schema, candidate, "table"
            if candidate in views:
                return schema, candidate, "view"
        known = sorted(tables | views)
        listing = ", ".join(known[:30]) + (" ..." if len(known) > 30 else "")
        raise LookupError(f"no table or view {name!r}; known: {listing or 'none'} (see list_tables)")

    def describe(self, name: str) -> TableDescription:
        """The full description of one table or view (without a row count: see `row_estimate`)."""
        schema, table, kind = self.resolve(name)
        columns = self.inspector.get_columns(table, schema)
        primary = list(self.inspector.get_pk_constraint(table, schema).get("constrained_columns") or [])
        foreign = [
            ForeignKeyInfo(
                columns=list(fk["constrained_columns"]),
                references_table=self.qualified(fk.get("referred_schema") or schema, fk["referred_table"]),
                references_columns=list(fk["referred_columns"]),
            )
            for fk in self.inspector.get_foreign_keys(table, schema)
        ]
        table_comment, column_comments = self._comments(schema, table, kind)
        summary = self._summary(schema, table, kind, table_comment)
        overrides = self._config_for(summary.name)
        infos = [
            ColumnInfo(
                name=c["name"],
                type=self._type_name(c["type"]),
                nullable=bool(c.get("nullable", True)),
                primary_key=c["name"] in primary,
                default=None if c.get("default") is None else str(c["default"]),
                comment=(overrides.comments.get(c["name"]) if overrides else None) or c.get("comment") or column_comments.get(c["name"]),
            )
            for c in columns
        ]
        return TableDescription(**summary.model_dump(), columns=infos, primary_key=primary, foreign_keys=foreign)

    def row_estimate(self, description: TableDescription) -> tuple[int | None, bool]:
        """``(rows, exact)``: PostgreSQL's planner estimate when it has one, else ``COUNT(*)``."""
        schema, table = self.split(description.name)
        if self.dialect == "postgresql":
            estimate = self.connection.execute(
                text(
                    "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = :schema AND c.relname = :table"
                ),
                {"schema": schema or self.default_schema, "table": table},
            ).scalar()
            if estimate is not None and estimate >= 0:
                return int(estimate), False
        preparer = self.connection.dialect.identifier_preparer
        quoted = preparer.quote(table) if schema in (None, self.default_schema) else f"{preparer.quote_schema(schema)}.{preparer.quote(table)}"
        return int(self.connection.execute(text(f"SELECT COUNT(*) FROM {quoted}")).scalar() or 0), True

    # --- helpers ------------------------------------------------------------------------

    def _summary(self, schema: str | None, table: str, kind: TableKind, comment: str | None) -> TableSummary:
        name = self.qualified(schema, table)
        entry = self._config_for(name)
        return TableSummary(
            name=name,
            kind=kind,
            comment=(entry.comment if entry and entry.comment else None) or comment,
            indexed_rows=entry is not None and entry.table is not None,
        )

    def _config_for(self, name: str) -> TableConfig | None:
        """The `[[sources.tables]]` entry for a table, for its configured comments."""
        wanted = self.split(name)
        for entry in self.config.tables:
            if entry.table is not None and self.split(entry.table) == wanted:
                return entry
        return None

    def _views(self, schema: str | None) -> list[str]:
        names = list(self.inspector.get_view_names(schema))
        if self.dialect == "postgresql":
            names += self.inspector.get_materialized_view_names(schema)
        return names

    def _table_comments(self, schema: str | None) -> dict[str, str]:
        if self.dialect == "sqlite":
            return {table: comment for table, (comment, _) in self._sqlite_comments().items() if comment}
        if schema not in self._comment_cache:
            try:
                found = self.inspector.get_multi_table_comment(schema=schema, kind=ObjectKind.ANY)
            except (NotImplementedError, SQLAlchemyError):
                found = {}
            self._comment_cache[schema] = {key[1]: value["text"] for key, value in found.items() if value.get("text")}
        return self._comment_cache[schema]

    def _comments(self, schema: str | None, table: str, kind: TableKind) -> tuple[str | None, dict[str, str]]:
        if self.dialect == "sqlite":
            return self._sqlite_comments().get(table, (None, {}))
        return self._table_comments(schema).get(table), {}

    def _sqlite_comments(self) -> dict[str, tuple[str | None, dict[str, str]]]:
        if self._sqlite_cache is None:
            rows = self.connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'view') AND sql IS NOT NULL")
            )
            self._sqlite_cache = {name: sqlite_comments(sql) for name, sql in rows}
        return self._sqlite_cache

    def _type_name(self, column_type: Any) -> str:
        try:
            return str(column_type.compile(dialect=self.connection.dialect)).lower()
        except Exception:  # noqa: BLE001 - an exotic type still gets a name
            return type(column_type).__name__.lower()


def sqlite_comments(create_sql: str) -> tuple[str | None, dict[str, str]]:
    """``(table comment, {column: comment})`` from ``-- comments`` in a CREATE TABLE statement."""
    table_parts: list[str] = []
    columns: dict[str, str] = {}
    in_body = False
    for line in create_sql.splitlines():
        code, _, comment = line.partition("--")
        comment = comment.strip()
        if not in_body:
            if comment:
                table_parts.append(comment)
            in_body = "(" in code
            continue
        stripped = code.strip()
        if not comment or not stripped or stripped.lower().startswith(_CONSTRAINT_WORDS):
            if comment and not stripped and not columns:
                table_parts.append(comment)
            continue
        name = re.split(r"\s", stripped, maxsplit=1)[0].strip('"`[],')
        columns[name] = comment
    return (" ".join(table_parts) or None), columns
