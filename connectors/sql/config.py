"""The config of a database source (`type = "sql"`): where it is and which rows become documents.

A source names one database by SQLAlchemy URL (the password never in the file: it comes from
the env var named by ``password_env``) and lists ``[[sources.tables]]``: a table or a query,
its id column(s), and how a row becomes a title and text. Everything is checked when the
config loads, so a template with a typo is a config error, not a failure per row.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from orgkb.connectors.base import ConnectorType, SourceConfig
from orgkb.connectors.permissions import Permissions, check_principal_names

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

SCHEMA_KEY_PREFIX = "schema"
"""Documents describing tables have keys ``schema/<table>``; no table entry may use that name."""

RESERVED_METADATA = frozenset({"table", "file_type"})
_FORMATTER = string.Formatter()


def template_fields(template: str) -> list[str]:
    """The column names a ``{column}`` template uses; `ValueError` for anything but plain names.

    Attribute access and indexing (``{row.__class__}``, ``{x[0]}``) are refused: a template
    renders values, it never evaluates anything.
    """
    fields: list[str] = []
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ValueError(f"invalid template {template!r}: {exc}") from None
    for _, field, spec, _conversion in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise ValueError(f"template {template!r}: every placeholder needs a column name, e.g. {{title}}")
        if "." in field or "[" in field or "{" in (spec or ""):
            raise ValueError(f"template {template!r}: placeholder {{{field}}} may only name a column")
        fields.append(field)
    return fields


_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+._-]*)://(?P<rest>.*)$", re.S)


class TableConfig(BaseModel):
    """One table (or query) whose rows become documents: ``[[sources.tables]]``."""

    model_config = ConfigDict(extra="forbid")

    table: str | None = Field(default=None, description='A table or view, optionally "schema.table".')
    query: str | None = Field(default=None, description="A single SELECT whose rows become documents (instead of `table`).")
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="Key prefix of the rows' documents; default: the table name. Required with `query`.",
    )
    id: str | list[str] = Field(description="The column (or columns, for a composite key) that identify a row.")
    title: str | None = Field(default=None, description='A column, or a template such as "{name} ({sku})".')
    text: list[str] | None = Field(default=None, description="Columns rendered as `column: value` paragraphs.")
    template: str | None = Field(default=None, description="Renders a row to text with {column} placeholders.")
    metadata: list[str] = Field(default_factory=list, description="Columns that become filterable metadata.")
    updated_at: str | None = Field(
        default=None, description="A last-modified column: only rows whose stamp changed are read again."
    )
    uri: str | None = Field(
        default=None, description='Citation link template, e.g. "https://crm.example.com/tickets/{ticket_id}".'
    )
    comment: str | None = Field(default=None, description="Describes the table (where the database has no comment).")
    comments: dict[str, str] = Field(default_factory=dict, description="Describes columns: column -> text.")
    allow: list[str] | None = Field(
        default=None,
        description='Who may read this table\'s rows and query it with `sql_query`: "group:hr", "user:alice", "*". '
        "Default: whoever may see the source. The source's own `allow` replaces this.",
    )
    row_groups_column: str | None = Field(
        default=None,
        description='A column naming the groups that may see each row ("hr, finance", "hr;finance" or a JSON/array '
        "value). A row with none falls back to `allow`, else admins only. Never rendered as text; free SQL over "
        "such a table is refused to callers who are not admins.",
    )

    @property
    def ids(self) -> list[str]:
        """The id columns as a list."""
        return [self.id] if isinstance(self.id, str) else list(self.id)

    @property
    def key_prefix(self) -> str:
        """The first part of every row's document key."""
        return self.name or (self.table or "").split(".")[-1]

    @property
    def title_template(self) -> str | None:
        """The title as a template (a bare column name ``name`` becomes ``{name}``)."""
        if self.title is None:
            return None
        return self.title if "{" in self.title else "{" + self.title + "}"

    @property
    def signature(self) -> str:
        """A short hash of how rows are rendered: part of every row's version stamp.

        Editing the template or the columns changes it, so rows are rendered again even when
        the data did not change.
        """
        blob = json.dumps(self.model_dump(exclude={"comment", "comments"}), sort_keys=True)
        return hashlib.blake2b(blob.encode(), digest_size=4).hexdigest()

    def columns_used(self) -> list[str] | None:
        """Every column the documents read, or None when all columns are rendered (no text/template)."""
        if self.text is None and self.template is None:
            return None
        used: list[str] = [*self.ids]
        for template in (self.title_template, self.template, self.uri):
            if template:
                used.extend(template_fields(template))
        used.extend(self.text or [])
        used.extend(self.metadata)
        if self.updated_at:
            used.append(self.updated_at)
        if self.row_groups_column:
            used.append(self.row_groups_column)
        return list(dict.fromkeys(used))

    def table_permissions(self) -> Permissions | None:
        """The entry's ``allow`` as permissions (None: not set, whoever sees the source)."""
        if self.allow is None:
            return None
        return Permissions(principals=frozenset(self.allow), rule=f"table {self.key_prefix}: allow = {sorted(self.allow)}")

    @field_validator("id")
    @classmethod
    def _non_empty_id(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("`id` needs one or more distinct columns")
        return value

    @field_validator("title", "template", "uri")
    @classmethod
    def _valid_template(cls, value: str | None) -> str | None:
        if value is not None and "{" in value:
            template_fields(value)
        return value

    @field_validator("allow")
    @classmethod
    def _principal_names(cls, value: list[str] | None) -> list[str] | None:
        return check_principal_names(value)

    @field_validator("query")
    @classmethod
    def _strip_query(cls, value: str | None) -> str | None:
        return value.strip().rstrip(";").strip() if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> TableConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("give either `table` or `query`")
        if self.query is not None and self.name is None:
            raise ValueError("a `query` entry needs a `name` (the key prefix of its documents)")
        if self.text is not None and self.template is not None:
            raise ValueError("give either `text` (columns) or `template`, not both")
        if self.text is not None and not self.text:
            raise ValueError("`text` needs at least one column")
        if self.key_prefix == SCHEMA_KEY_PREFIX:
            raise ValueError(f"the name {SCHEMA_KEY_PREFIX!r} is reserved for table descriptions: set `name`")
        clash = RESERVED_METADATA & set(self.metadata)
        if clash:
            raise ValueError(f"metadata column(s) {', '.join(sorted(clash))} clash with orgkb's own keys")
        self._groups_column_stays_hidden()
        return self

    def _groups_column_stays_hidden(self) -> None:
        """The row-groups column decides who sees a row; shown as text or metadata it would
        also be searchable and change the content hash (re-embedding on a permission change)."""
        column = self.row_groups_column
        if column is None:
            return
        if column in self.ids:
            raise ValueError(f"`row_groups_column` {column!r} cannot also be an id column")
        shown = [*(self.text or []), *self.metadata]
        for template in (self.title_template, self.template, self.uri):
            if template:
                shown.extend(template_fields(template))
        if column in shown:
            raise ValueError(f"`row_groups_column` {column!r} must not be shown in title, text, template, uri or metadata")


class SqlConfig(SourceConfig):
    """A database reached through SQLAlchemy: PostgreSQL, SQLite, MySQL, ..."""

    type: Literal["sql"] = "sql"
    url: str = Field(
        description='SQLAlchemy URL without password, e.g. "postgresql://reader@db.internal/crm" or '
        '"sqlite:///data/app.db" (relative to the config file).'
    )
    password_env: str | None = Field(default=None, description="Env var holding the database password.")
    schemas: list[str] | None = Field(
        default=None, description="Database schemas whose tables are described and listed; default: the default schema."
    )
    tables: list[TableConfig] = Field(default_factory=list, description="Tables or queries whose rows are indexed.")
    schema_documents: bool = Field(default=True, description="Index one document describing each table.")
    page_size: int = Field(default=1000, ge=10, le=100_000, description="Rows read per query while indexing.")
    allow_queries: bool = Field(default=True, description="Offer the read-only `sql_query` tool for this source.")
    statement_timeout: float = Field(default=10.0, gt=0, le=3600, description="Seconds before a tool's query is cancelled.")
    connect_timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds to wait for a connection.")
    default_rows: int | None = Field(
        default=None, ge=1, description="Rows `sql_query` returns when no limit is given; default 50 (or max_rows if lower)."
    )
    max_rows: int = Field(default=500, ge=1, le=100_000, description="Most rows `sql_query` ever returns.")
    max_cell_chars: int = Field(default=2000, ge=16, description="Longer values in query results are cut (in the database).")
    max_result_chars: int = Field(
        default=1_000_000, ge=1000, description="A query result stops (truncated) once its values reach this many characters."
    )
    allow_write_capable_role: bool = Field(
        default=False,
        description="Serve `sql_query` even though the account can write or reach the server's files "
        "(superuser, write grants, CREATE, pg_*_server_* roles). Default: such a source's queries are refused "
        "and `orgkb check` fails; connect with a SELECT-only role instead.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str, info: ValidationInfo) -> str:
        # Checked without SQLAlchemy, whose import costs ~0.15 s of server start-up; SQLAlchemy
        # parses the URL itself when the connector first connects.
        match = _URL.match(value.strip())
        if match is None:
            raise ValueError("not a SQLAlchemy URL (e.g. postgresql://user@host/db or sqlite:///file.db)")
        scheme, rest = match["scheme"], match["rest"]
        backend = scheme.split("+", 1)[0].lower()
        if backend == "sqlite":
            return _resolve_sqlite(scheme, rest, info)
        if urlsplit(f"{scheme}://{rest}").password is not None:
            raise ValueError("the URL must not contain a password: put it in an env var named by `password_env`")
        if backend == "postgresql" and "+" not in scheme:
            # SQLAlchemy's default PostgreSQL driver is psycopg2; orgkb ships psycopg 3.
            scheme = "postgresql+psycopg"
        return f"{scheme}://{rest}"

    @model_validator(mode="after")
    def _unique_prefixes(self) -> SqlConfig:
        prefixes = [t.key_prefix for t in self.tables]
        repeated = sorted({p for p in prefixes if prefixes.count(p) > 1})
        if repeated:
            raise ValueError(f"two table entries share the name {', '.join(repeated)}: give one a `name`")
        if self.default_rows is not None and self.default_rows > self.max_rows:
            raise ValueError("`default_rows` cannot exceed `max_rows`")
        return self

    @property
    def rows_by_default(self) -> int:
        """Rows `sql_query` returns when the caller gives no limit."""
        return self.default_rows if self.default_rows is not None else min(50, self.max_rows)

    @property
    def sqlalchemy_url(self) -> URL:
        """The URL without password (the password is added when connecting)."""
        from sqlalchemy.engine import make_url

        return make_url(self.url)

    def table_config(self, name: str) -> TableConfig | None:
        """The entry whose table (bare or qualified) or name is ``name``."""
        for table in self.tables:
            if name in (table.table, table.key_prefix):
                return table
        return None


def _resolve_sqlite(scheme: str, rest: str, info: ValidationInfo) -> str:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db``, made absolute against the config file."""
    database, _, query = rest.partition("?")
    if not database.startswith("/"):
        raise ValueError("a SQLite URL has three slashes before the path, e.g. sqlite:///data/app.db")
    database = unquote(database[1:])
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ValueError("a SQLite source needs a database file path, e.g. sqlite:///data/app.db")
    path = SourceConfig.resolve_path(Path(database), info)
    return f"{scheme}:///{path}" + (f"?{query}" if query else "")


# The connector (and SQLAlchemy with it) is imported only when a sql source is first used.
# The connector module imports SQLAlchemy: named as a string, it is imported on first sync only.
CONNECTOR = ConnectorType(
    type="sql",
    config_model=SqlConfig,
    factory="orgkb.connectors.sql.connector:SqlConnector",
    description="Database tables and queries (PostgreSQL, SQLite, MySQL) read-only.",
)
