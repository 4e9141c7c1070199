"""Descriptions of database tables, as the schema documents and the database tools show them.

Plain data, kept apart from the code that reads them so the MCP server can declare its tools'
output schemas without importing SQLAlchemy before its handshake.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

TableKind = Literal["table", "view"]


class ColumnInfo(BaseModel):
    """One column."""

    name: str
    type: str
    nullable: bool
    primary_key: bool = False
    default: str | None = None
    comment: str | None = None


class ForeignKeyInfo(BaseModel):
    """Columns that reference another table."""

    columns: list[str]
    references_table: str
    references_columns: list[str]


class TableSummary(BaseModel):
    """A table or view as `list_tables` shows it."""

    name: str = Field(description='Name to use in SQL and describe_table ("schema.table" outside the default schema).')
    kind: TableKind
    comment: str | None = None
    indexed_rows: bool = Field(default=False, description="True when this table's rows are indexed for search.")


class TableDescription(TableSummary):
    """Everything `describe_table` knows about a table."""

    columns: list[ColumnInfo]
    primary_key: list[str] = Field(default_factory=list)
    foreign_keys: list[ForeignKeyInfo] = Field(default_factory=list)
    row_estimate: int | None = Field(default=None, description="Rows in the table (exact when row_count_exact).")
    row_count_exact: bool = False

    def as_text(self, database: str) -> str:
        """A readable description, indexed as a document and served as a resource."""
        lines = [f"{self.kind.capitalize()} {self.name} in database {database}"]
        if self.comment:
            lines.append(self.comment)
        lines.append("")
        lines.append("Columns:")
        for column in self.columns:
            traits = [column.type, "not null" if not column.nullable else "nullable"]
            if column.primary_key:
                traits.append("primary key")
            for key in self.foreign_keys:
                if column.name in key.columns and len(key.columns) == 1:
                    traits.append(f"references {key.references_table}.{key.references_columns[0]}")
            line = f"- {column.name} ({', '.join(traits)})"
            lines.append(f"{line}: {column.comment}" if column.comment else line)
        if self.primary_key:
            lines.append(f"\nPrimary key: {', '.join(self.primary_key)}")
        for key in self.foreign_keys:
            lines.append(
                f"Foreign key: ({', '.join(key.columns)}) references {key.references_table}({', '.join(key.references_columns)})"
            )
        return "\n".join(lines)
