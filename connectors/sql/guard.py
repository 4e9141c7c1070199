"""The first read-only layer: a statement is parsed, and only one plain read query passes.

This is one of three layers (see `SqlDatabase.read_only` for the read-only transaction with a
statement timeout, and the README for the SELECT-only role). The statement is parsed with
sqlglot in the database's dialect and walked node by node; string prefixes and regexes are
never trusted. What runs afterwards is the statement *as sqlglot rendered it* from the checked
tree, without comments, so the database executes exactly what was checked: a comment or quoting
trick that the parser and the server read differently cannot smuggle in a second statement.
"""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# sqlglot logs "falling back to parsing as a Command" for statements we refuse anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql", "mssql": "tsql"}

READ_ROOTS: tuple[type[exp.Expression], ...] = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
"""A statement may only be a SELECT (with or without WITH), a UNION/INTERSECT/EXCEPT, or VALUES."""

_FORBIDDEN_NAMES = (
    "DML", "DDL", "Insert", "Update", "Delete", "Merge", "Copy", "Create", "Drop", "Alter", "TruncateTable",
    "Command", "Set", "Transaction", "Commit", "Rollback", "Into", "Lock", "Pragma", "Use", "LoadData", "Grant",
    "Revoke", "Attach", "Detach", "Analyze", "Kill", "Refresh", "Declare", "Execute", "Cache", "Uncache",
    "Comment", "Summarize", "Describe", "Show",
)
FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in _FORBIDDEN_NAMES if isinstance(getattr(exp, name, None), type)
)
"""Node types refused anywhere in the tree: writes (also inside a WITH), transaction control,
settings, locks (``FOR UPDATE``), ``SELECT ... INTO``, and anything sqlglot could not parse."""

DENIED_FUNCTIONS = frozenset({
    # PostgreSQL: other sessions, sleeping, server files, settings, sequences, locks, transactions
    "pg_terminate_backend", "pg_cancel_backend", "pg_sleep", "pg_sleep_for", "pg_sleep_until",
    "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_reload_conf", "pg_rotate_logfile",
    "set_config", "nextval", "setval", "pg_notify", "pg_switch_wal", "pg_promote", "pg_backup_start",
    "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_create_restore_point", "pg_import_system_collations",
    "pg_logical_emit_message", "pg_log_backend_memory_contexts", "pg_current_xact_id", "pg_current_xact_id_if_assigned",
    "pg_export_snapshot", "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml",
    "cursor_to_xmlschema", "table_to_xml", "table_to_xml_and_xmlschema", "schema_to_xml", "database_to_xml",
    "database_to_xml_and_xmlschema", "schema_to_xml_and_xmlschema", "pg_file_write", "pg_file_rename",
    "pg_file_unlink", "pg_file_sync", "pg_logdir_ls", "pg_wal_replay_pause", "pg_wal_replay_resume",
    "pg_stat_statements_reset",
    # SQLite: extensions and the shell's file functions
    "load_extension", "writefile", "readfile", "edit", "fts3_tokenizer",
    # MySQL
    "sleep", "benchmark", "load_file", "get_lock", "release_lock", "release_all_locks",
})
DENIED_PREFIXES = (
    "lo_", "dblink", "pg_ls_", "pg_advisory", "pg_try_advisory", "txid_", "pg_stat_reset",
    "pg_create_", "pg_drop_replication", "pg_replication_origin", "pg_copy_", "pg_replication_slot",
)
"""Functions with side effects or that reach outside the database. A function the database
admin defined (which may write) is not known here: the read-only transaction stops that one."""


class UnsafeQueryError(ValueError):
    """The statement is not a single read query; the message says what was refused and why."""


def sqlglot_dialect(sqlalchemy_dialect: str) -> str | None:
    """sqlglot's name for a SQLAlchemy dialect (None: sqlglot's generic SQL)."""
    name = _DIALECTS.get(sqlalchemy_dialect, sqlalchemy_dialect)
    try:
        sqlglot.Dialect.get_or_raise(name)
    except ValueError:
        return None
    return name


def checked_read_query(sql: str, dialect: str | None) -> str:
    """The statement to run for ``sql`` if it is one read query; `UnsafeQueryError` otherwise."""
    tree = _parse_single(sql, dialect)
    _check_tree(tree)
    rendered = tree.sql(dialect=dialect, comments=False, normalize_functions=False)
    # Rendering must not change what was checked: the rendered text has to pass on its own.
    _check_tree(_parse_single(rendered, dialect))
    return rendered


def _parse_single(sql: str, dialect: str | None) -> exp.Expression:
    if not sql or not sql.strip():
        raise UnsafeQueryError("the query is empty")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnsafeQueryError(f"the query could not be parsed as {dialect or 'SQL'}: {first}") from None
    if not statements:
        raise UnsafeQueryError("the query is empty")
    if len(statements) > 1:
        raise UnsafeQueryError(
            f"only one statement is allowed, found {len(statements)} (remove the ';' and what follows it)"
        )
    return statements[0]


def _check_tree(tree: exp.Expression) -> None:
    if not isinstance(tree, READ_ROOTS):
        raise UnsafeQueryError(
            f"only read queries (SELECT, WITH ... SELECT, UNION, VALUES) are allowed, not {_describe(tree)}"
        )
    for node in tree.walk():
        if isinstance(node, FORBIDDEN_NODES):
            raise UnsafeQueryError(f"read-only: {_describe(node)} is not allowed in a query")
        if isinstance(node, exp.Func):
            name = function_name(node)
            if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
                raise UnsafeQueryError(
                    f"read-only: the function {name}() is not allowed (it has side effects or reaches outside the database)"
                )


def function_name(node: exp.Func) -> str:
    """The lower-case name a function call uses (quoted, schema-qualified and known ones alike)."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return node.sql_name().lower()


def _describe(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return f"the command {str(node.this).upper()}"
    if isinstance(node, exp.Lock):
        return "a row lock (FOR UPDATE/SHARE)"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO (it creates a table)"
    if isinstance(node, exp.Set):
        return "SET"
    names = {"TruncateTable": "TRUNCATE", "Transaction": "BEGIN", "LoadData": "LOAD DATA"}
    kind = type(node).__name__
    return names.get(kind, kind.upper())
