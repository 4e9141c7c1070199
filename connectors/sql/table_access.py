"""Which tables of a database source carry permissions: the `allow` and `row_groups_column` of
its ``[[sources.tables]]`` entries, matched to the table names a query or a schema listing uses.

Names are matched by their last part, case-insensitively (``public.HR_Notes`` is ``hr_notes``):
matching too much only refuses more, never less. A ``query`` entry protects every table its
query reads. The decision about a caller is made in `orgkb.server.app.service.CallerView`;
this module only says which rules apply to a name.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from orgkb.connectors.sql.config import SqlConfig, TableConfig


class TableRule(BaseModel):
    """What one table entry says about the tables it reads."""

    model_config = ConfigDict(frozen=True)

    entry: str
    tables: frozenset[str]
    allow: frozenset[str] | None = None
    row_groups_column: str | None = None


def bare_name(name: str) -> str:
    """The last part of a (possibly quoted, schema-qualified) table name, lower-cased."""
    return name.strip().rpartition(".")[2].strip().strip('"`[]').lower()


def _tables_of(entry: TableConfig, dialect: str | None) -> frozenset[str]:
    if entry.table is not None:
        return frozenset({bare_name(entry.table)})
    from orgkb.connectors.sql.guard import UnsafeQueryError, referenced_tables

    try:
        return frozenset(bare_name(t) for t in referenced_tables(entry.query or "", dialect))
    except UnsafeQueryError:
        return frozenset()  # such an entry is refused when the source syncs; it reads nothing


def table_rules(config: SqlConfig) -> list[TableRule]:
    """The rules of every entry that sets `allow` or `row_groups_column`."""
    from orgkb.connectors.sql.guard import sqlglot_dialect

    dialect = sqlglot_dialect(config.url.split(":", 1)[0].split("+", 1)[0].lower())
    return [
        TableRule(
            entry=entry.key_prefix,
            tables=_tables_of(entry, dialect),
            allow=frozenset(entry.allow) if entry.allow is not None else None,
            row_groups_column=entry.row_groups_column,
        )
        for entry in config.tables
        if entry.allow is not None or entry.row_groups_column is not None
    ]


def rules_for(rules: list[TableRule], table: str) -> list[TableRule]:
    """The rules that apply to the table ``table`` names."""
    wanted = bare_name(table)
    return [rule for rule in rules if wanted in rule.tables]


def table_allow(rules: list[TableRule], table: str) -> frozenset[str] | None:
    """The principals every applicable `allow` admits (their intersection); None when no rule
    limits the table."""
    allowed: frozenset[str] | None = None
    for rule in rules_for(rules, table):
        if rule.allow is not None:
            allowed = rule.allow if allowed is None else allowed & rule.allow
    return allowed
