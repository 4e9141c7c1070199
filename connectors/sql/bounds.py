"""Query results bounded inside the database, so a query cannot make orgkb's memory grow.

A checked statement never runs as it is: first a zero-row probe learns its columns, then it runs
wrapped so that the database itself cuts every unbounded value (text, bytes, JSON, arrays) to
``max_cell_chars`` and returns at most ``max_rows + 1`` rows. Values of bounded types (numbers,
booleans, dates, uuids) pass through unchanged, so ints stay ints. Rows are then read one at a
time until a budget of characters for the whole result is spent.

- PostgreSQL: ``SELECT left(CAST(c AS text), n + 1), ... FROM (<query>) AS orgkb_q(c1, ...) LIMIT k``;
  JSON and arrays go through ``to_json`` and come back as JSON values when they fit.
- SQLite: each value passes through ``orgkb_cut(c, n)`` (a function orgkb registers on its own
  connections; a query cannot call it, it is not on the allow-list), and the connection's
  SQLITE_LIMIT_LENGTH stops any single string or blob (``printf('%.*c', ...)``, ``replace``,
  ``group_concat``) from growing past `SQLITE_MAX_VALUE_BYTES` in orgkb's process: such a call
  fails at once instead of allocating; the allow-list keeps printf widths and trim sets literal
  and small, so no single call runs for long past the progress handler's timeout.
- Other dialects: rows are capped while fetching and values cut after fetching.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT
from sqlalchemy.engine import Connection

SQLITE_MAX_VALUE_BYTES = 1_000_000
"""The largest string or blob a SQLite query may build or read (SQLITE_LIMIT_LENGTH). It also
bounds the time of one call of a function that is quadratic in its inputs (replace, instr):
about 5 s at this size for a crafted worst case, measured; SQLite cannot interrupt inside one."""
SQLITE_MAX_LIKE_PATTERN = 200
"""The longest LIKE/GLOB pattern (SQLITE_LIMIT_LIKE_PATTERN_LENGTH): matching is O(text × pattern)."""
CUT_FUNCTION = "orgkb_cut"

_PG_KEEP_CATEGORIES = frozenset({"B", "N", "D", "T"})  # boolean, numeric, date/time, interval
_PG_UUID, _PG_BYTEA, _PG_JSON, _PG_JSONB = 2950, 17, 114, 3802
_PG_CATEGORIES = text("SELECT oid::int8, typcategory FROM pg_catalog.pg_type WHERE oid::int8 = ANY(:oids)").bindparams(
    bindparam("oids", type_=ARRAY(BIGINT))
)


@dataclass
class BoundedRows:
    """At most ``max_rows`` rows of a query, each value cut to ``max_cell_chars``."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    cells_cut: int
    size_capped: bool


def sqlite_cut(value: Any, limit: int) -> Any:
    """SQLite's ``orgkb_cut``: text and blobs cut just past ``limit`` (so a cut shows), others unchanged."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit + 1]
    if isinstance(value, bytes) and len(value) > limit:
        return value[: limit + 1]
    return value


def driver_text(statement: str, paramstyle: str) -> str:
    """The statement as the driver must receive it: no parameters, so a literal % is doubled."""
    return statement.replace("%", "%%") if paramstyle in ("format", "pyformat") else statement


def read_bounded(
    connection: Connection, dialect: str, statement: str, *, max_rows: int, max_cell_chars: int, max_result_chars: int
) -> BoundedRows:
    """Run a checked ``statement`` with its result bounded in the database (see the module doc)."""
    n = max_cell_chars
    json_columns: set[int] = set()
    if dialect == "postgresql":
        columns, wrapped, json_columns = _postgres_wrapper(connection, statement, n, max_rows + 1)
    elif dialect == "sqlite":
        columns = _probe(connection, statement)
        aliases = ", ".join(f"c{i}" for i in range(len(columns)))
        cut = ", ".join(f"{CUT_FUNCTION}(c{i}, {n})" for i in range(len(columns)))
        wrapped = f"WITH orgkb_q({aliases}) AS ({statement}) SELECT {cut} FROM orgkb_q LIMIT {max_rows + 1}"
    else:
        columns, wrapped = [], statement
    streaming = connection.execution_options(stream_results=True, max_row_buffer=min(max_rows + 1, 100))
    result = streaming.exec_driver_sql(driver_text(wrapped, connection.dialect.paramstyle))
    if not columns:
        columns = list(result.keys())
    cells = CellLimiter(n)
    rows: list[list[Any]] = []
    truncated = size_capped = False
    try:
        for row in result:
            if len(rows) == max_rows:
                truncated = True
                break
            rows.append([cells.value(v, as_json=i in json_columns) for i, v in enumerate(row)])
            if cells.chars > max_result_chars and len(rows) < max_rows:
                truncated = size_capped = True
                break
    finally:
        result.close()
    return BoundedRows(columns=columns, rows=rows, truncated=truncated, cells_cut=cells.cut, size_capped=size_capped)


def _probe(connection: Connection, statement: str) -> list[str]:
    probe = f"SELECT * FROM ({statement}) AS orgkb_q LIMIT 0"
    result = connection.exec_driver_sql(driver_text(probe, connection.dialect.paramstyle))
    names = list(result.keys())
    result.close()
    return names


def _postgres_wrapper(connection: Connection, statement: str, n: int, limit: int) -> tuple[list[str], str, set[int]]:
    probe = connection.exec_driver_sql(driver_text(f"SELECT * FROM ({statement}) AS orgkb_q LIMIT 0", connection.dialect.paramstyle))
    description: Sequence[Any] = probe.cursor.description or []
    probe.close()
    names = [column.name for column in description]
    oids = [int(column.type_code) for column in description]
    found = connection.execute(_PG_CATEGORIES, {"oids": sorted(set(oids))}).all() if oids else []
    categories = {int(oid): str(category) for oid, category in found}
    expressions: list[str] = []
    json_columns: set[int] = set()
    for i, oid in enumerate(oids):
        column = f"orgkb_q.c{i}"
        category = categories.get(oid, "X")
        if category in _PG_KEEP_CATEGORIES or oid == _PG_UUID:
            expressions.append(column)
        elif oid == _PG_BYTEA:
            expressions.append(f"substring({column} FROM 1 FOR {n + 1})")
        elif oid in (_PG_JSON, _PG_JSONB) or category == "A":
            json_columns.add(i)
            expressions.append(f"left(CAST(to_json({column}) AS text), {n + 1})")
        else:
            expressions.append(f"left(CAST({column} AS text), {n + 1})")
    if not names:
        return [], f"SELECT FROM ({statement}) AS orgkb_q LIMIT {limit}", set()
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    wrapped = f"SELECT {', '.join(expressions)} FROM ({statement}) AS orgkb_q({aliases}) LIMIT {limit}"
    return names, wrapped, json_columns


class CellLimiter:
    """Turns database values into JSON values, cutting long ones and counting what it returned."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.cut = 0
        self.chars = 0

    def value(self, value: Any, *, as_json: bool = False) -> Any:
        """``value`` as a JSON value; ``as_json``: it is JSON text (kept as JSON when it was not cut)."""
        if as_json and isinstance(value, str) and len(value) <= self.max_chars:
            self.chars += len(value)
            return json.loads(value)
        converted = self._convert(value)
        self.chars += len(converted) if isinstance(converted, str) else 8
        return converted

    def _convert(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, Decimal):
            number = _decimal(value)
            return self._text(number) if isinstance(number, str) else number
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


def _decimal(value: Decimal) -> int | float | str:
    """A decimal as a JSON number where that loses nothing, else as its exact text."""
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)
