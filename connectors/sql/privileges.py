"""The third read-only layer, checked: can the account orgkb connects with do more than SELECT?

The statement check and the read-only transaction refuse writes, but only a role that cannot
write is a boundary no statement can talk its way past. So a source whose account can write
(or reach the server's files or other sessions) gets no `sql_query` unless its config says
``allow_write_capable_role = true``: `orgkb check` fails for it, and the server's `sql_query`
answers with the fix. Its tables are still indexed and described: those statements are
orgkb's own, never a caller's.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from orgkb.connectors.sql.config import SqlConfig
from orgkb.connectors.sql.database import SqlDatabase

_PG_ROLE = text(
    "SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb,"
    " pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'),"
    " pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'),"
    " pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),"
    " pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'), current_user"
    " FROM pg_roles r WHERE r.rolname = current_user"
)
_PG_USER_SCHEMAS = "left(n.nspname, 3) <> 'pg_' AND n.nspname <> 'information_schema'"  # pg_* names are reserved
_PG_WRITABLE = text(
    "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    f" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_PG_USER_SCHEMAS}"
    " AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') ORDER BY 1"
)
_PG_SEQUENCES = text(
    "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    f" WHERE c.relkind = 'S' AND {_PG_USER_SCHEMAS}"
    # CASE: the planner may call the function before the relkind filter, and it fails on a non-sequence.
    " AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'USAGE, UPDATE') ELSE false END ORDER BY 1"
)
_PG_CREATE = text(
    f"SELECT n.nspname FROM pg_namespace n WHERE {_PG_USER_SCHEMAS} AND has_schema_privilege(n.nspname, 'CREATE') ORDER BY 1"
)


def write_capabilities(connection: Connection, database: SqlDatabase) -> list[str] | None:
    """What the account can do beyond reading ([] for nothing); None where orgkb cannot tell.

    SQLite has no accounts: orgkb opens the file read-only (``mode=ro``), which no statement can
    undo, so a writable file is a warning (`write_warnings`), not a capability.
    """
    if database.dialect == "postgresql":
        return _postgres_capabilities(connection)
    if database.dialect == "sqlite":
        return []
    return None


def write_warnings(capabilities: list[str] | None, database: SqlDatabase) -> list[str]:
    """Warnings for `orgkb check`: the account's ``capabilities`` (from `write_capabilities`) and more."""
    if capabilities is None:
        return [
            f"cannot check the privileges of the {database.dialect} account: make sure it can only SELECT "
            "(see the README: SELECT-only role)"
        ]
    warnings = list(capabilities)
    if database.dialect == "sqlite":
        warnings.extend(_sqlite_warnings(Path(database.url.database or "")))
    return warnings


def query_refusal(capabilities: list[str] | None, config: SqlConfig) -> str | None:
    """The one-line reason `sql_query` is refused for this source, or None when it may run."""
    if not capabilities or config.allow_write_capable_role or not config.allow_queries:
        return None
    return (
        f"{config.name}: SQL queries are refused because the database account can do more than read "
        f"({'; '.join(capabilities)}). Connect with a SELECT-only role (README: SELECT-only role), or set "
        "allow_write_capable_role = true for this source to accept the risk"
    )


def _postgres_capabilities(connection: Connection) -> list[str]:
    row = connection.execute(_PG_ROLE).one()
    superuser, create_role, create_db, write_files, run_programs, read_files, signal, user = row
    found: list[str] = []
    if superuser:
        found.append(f"role {user} is a superuser: it can change anything; connect with a SELECT-only role")
    for granted, what in (
        (write_files, "pg_write_server_files (writes files on the server)"),
        (run_programs, "pg_execute_server_program (runs programs on the server)"),
        (read_files, "pg_read_server_files (reads files on the server)"),
        (signal, "pg_signal_backend (ends other sessions)"),
    ):
        if granted and not superuser:
            found.append(f"role {user} is a member of {what}")
    if (create_role or create_db) and not superuser:
        found.append(f"role {user} can create roles or databases (CREATEROLE/CREATEDB)")
    if superuser:
        return found  # it can write every table: listing them adds nothing
    writable = [name for (name,) in connection.execute(_PG_WRITABLE)]
    if writable:
        found.append(f"role {user} can write to {len(writable)} table(s): {_some(writable)}; grant it SELECT only")
    sequences = [name for (name,) in connection.execute(_PG_SEQUENCES)]
    if sequences:
        found.append(f"role {user} can advance {len(sequences)} sequence(s): {_some(sequences)}")
    creatable = [name for (name,) in connection.execute(_PG_CREATE)]
    if creatable:
        found.append(f"role {user} can create objects in schema(s) {', '.join(creatable)}")
    return found


def _some(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _sqlite_warnings(path: Path) -> list[str]:
    if os.access(path, os.W_OK):
        return [
            f"{path} is writable by this process; orgkb opens it read-only anyway (mode=ro, query_only), "
            "but a read-only file or account is safer"
        ]
    return []
