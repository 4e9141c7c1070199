"""The third read-only layer, checked: does the account orgkb connects with have more than SELECT?

`orgkb check` prints these warnings. The guard and the read-only transaction refuse writes
anyway, but only a role that cannot write is a boundary no statement can talk its way past.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from orgkb.connectors.sql.config import SqlConfig
from orgkb.connectors.sql.database import SqlDatabase

_PG_ROLE = text(
    "SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb,"
    " pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'),"
    " pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'),"
    " pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'), current_user"
    " FROM pg_roles r WHERE r.rolname = current_user"
)
_PG_WRITABLE = text(
    "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname IN :schemas"
    " AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') ORDER BY 1"
).bindparams(bindparam("schemas", expanding=True))
_PG_CREATE = text(
    "SELECT nspname FROM pg_namespace WHERE nspname IN :schemas AND has_schema_privilege(nspname, 'CREATE') ORDER BY 1"
).bindparams(bindparam("schemas", expanding=True))


def write_warnings(connection: Connection, database: SqlDatabase, config: SqlConfig) -> list[str]:
    """Warnings about anything the account can do beyond reading."""
    if database.dialect == "postgresql":
        return _postgres_warnings(connection, config)
    if database.dialect == "sqlite":
        return _sqlite_warnings(Path(database.url.database or ""))
    return [
        f"cannot check the privileges of the {database.dialect} account: make sure it can only SELECT "
        "(see the README: SELECT-only role)"
    ]


def _postgres_warnings(connection: Connection, config: SqlConfig) -> list[str]:
    row = connection.execute(_PG_ROLE).one()
    superuser, create_role, create_db, write_files, run_programs, read_files, user = row
    warnings: list[str] = []
    if superuser:
        warnings.append(f"role {user} is a superuser: it can change anything; connect with a SELECT-only role")
    for granted, what in (
        (write_files, "pg_write_server_files (writes files on the server)"),
        (run_programs, "pg_execute_server_program (runs programs on the server)"),
        (read_files, "pg_read_server_files (reads files on the server)"),
    ):
        if granted and not superuser:
            warnings.append(f"role {user} is a member of {what}")
    if (create_role or create_db) and not superuser:
        warnings.append(f"role {user} can create roles or databases (CREATEROLE/CREATEDB)")
    schemas = sorted(_schemas(connection, config))
    writable = [name for (name,) in connection.execute(_PG_WRITABLE, {"schemas": schemas})]
    if writable:
        shown = ", ".join(writable[:5]) + (f" and {len(writable) - 5} more" if len(writable) > 5 else "")
        warnings.append(f"role {user} can write to {len(writable)} table(s): {shown}; grant it SELECT only")
    creatable = [name for (name,) in connection.execute(_PG_CREATE, {"schemas": schemas})]
    if creatable:
        warnings.append(f"role {user} can create objects in schema(s) {', '.join(creatable)}")
    return warnings


def _schemas(connection: Connection, config: SqlConfig) -> set[str]:
    """The configured schemas plus those of configured tables (default: the current schema)."""
    schemas = set(config.schemas or [connection.execute(text("SELECT current_schema()")).scalar() or "public"])
    schemas.update(t.table.rpartition(".")[0] for t in config.tables if t.table and "." in t.table)
    return schemas


def _sqlite_warnings(path: Path) -> list[str]:
    if os.access(path, os.W_OK):
        return [
            f"{path} is writable by this process; orgkb opens it read-only anyway (mode=ro, query_only), "
            "but a read-only file or account is safer"
        ]
    return []
