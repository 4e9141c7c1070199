"""The first read-only layer: a statement is parsed, and only what the allow-list knows passes.

This is one of three layers (see `SqlDatabase.read_only` for the read-only transaction with a
statement timeout and bounds, and the README for the SELECT-only role). The statement is parsed
with sqlglot in the database's dialect and walked node by node; string prefixes and regexes are
never trusted. Every node must be a statement shape, operator or type on the allow-list
(`orgkb.connectors.sql.allowlist`) and every function call a function listed for the dialect:
anything else, including each function the database's admin defined, is refused with the name
of what was not known. What runs afterwards is the statement *as sqlglot rendered it* from the
checked tree, without comments, and the rendered text is checked again on its own: a comment or
quoting trick that the parser and the server read differently cannot smuggle anything in.
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from orgkb.connectors.sql.allowlist import (
    LITERAL_ARGUMENTS,
    MAX_FORMAT_WIDTH_DIGITS,
    MAX_LITERAL_ARGUMENT,
    SYNTAX,
    SYNTAX_FUNCTIONS,
    TYPES,
    allowed_functions,
)

# sqlglot logs "falling back to parsing as a Command" for statements we refuse anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql", "mssql": "tsql"}

READ_ROOTS: tuple[type[exp.Expression], ...] = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
"""A statement may only be a SELECT (with or without WITH), a UNION/INTERSECT/EXCEPT, or VALUES."""

_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_$]*)\s*\(")
_FORMAT_SPEC = re.compile(r"%[-+ 0#,!]*(\*|\d*)(?:\.(\*|\d*))?")
_CASE_SENSITIVE_QUOTES = frozenset({"postgres"})
"""Dialects where a quoted function name is matched exactly ("Lower" is not lower)."""


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
    """The statement to run for ``sql`` if everything in it is allowed; `UnsafeQueryError` otherwise."""
    tree = _parse_single(sql, dialect)
    _check_tree(tree, dialect)
    rendered = tree.sql(dialect=dialect, comments=False, normalize_functions=False)
    # Rendering must not change what was checked: the rendered text has to pass on its own.
    _check_tree(_parse_single(rendered, dialect), dialect)
    return rendered


def referenced_tables(sql: str, dialect: str | None) -> list[str]:
    """Every table or view name ``sql`` reads, as written (``schema.table`` when qualified), sorted.

    A CTE's name counts as a table too: telling a CTE from a table of the same name is left to
    the database, so a name that might be a protected table is treated as one. Table-valued
    functions (``json_each(...)``, ``generate_series(...)``) are not tables.
    """
    names = {
        ".".join(part.name for part in node.parts)
        for node in _parse_single(sql, dialect).find_all(exp.Table)
        if isinstance(node.this, exp.Identifier)
    }
    return sorted(names)


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


def _check_tree(tree: exp.Expression, dialect: str | None) -> None:
    if not isinstance(tree, READ_ROOTS):
        raise UnsafeQueryError(
            f"only read queries (SELECT, WITH ... SELECT, UNION, VALUES) are allowed, not {_describe(tree)}"
        )
    functions = allowed_functions(dialect)
    for node in tree.walk():
        if isinstance(node, exp.Func):
            _check_function(node, dialect, functions)
        elif type(node) not in SYNTAX:
            raise UnsafeQueryError(f"{_describe(node)} is not allowed in a query (it is not on the allow-list)")
        elif isinstance(node, exp.DataType):
            _check_type(node)
        elif isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
            _refuse_qualified(node.this.sql(dialect=dialect), node.expression, dialect)
        elif isinstance(node, exp.Table) and isinstance(node.this, exp.Func) and (node.args.get("db") or node.args.get("catalog")):
            _refuse_qualified(".".join(p.name for p in node.parts[:-1]), node.this, dialect)


def _refuse_qualified(schema: str, function: exp.Func, dialect: str | None) -> None:
    # A schema names which function runs: pg_catalog.x hides a name, public.lower runs the admin's own.
    raise UnsafeQueryError(
        f"the schema-qualified function {schema}.{function_name(function, dialect)}() is not allowed: "
        "call built-in functions without a schema"
    )


def _check_function(node: exp.Func, dialect: str | None, functions: frozenset[str]) -> None:
    if type(node).__name__ in SYNTAX_FUNCTIONS:
        return
    name = function_name(node, dialect)
    if name not in functions:
        raise UnsafeQueryError(
            f"the function {name}() is not on the allow-list of pure {dialect or 'SQL'} functions "
            "(side effects, SQL text and user-defined functions are refused)"
        )
    position = LITERAL_ARGUMENTS.get(dialect, {}).get(name)
    arguments = list(node.iter_expressions())
    if position is not None and position < len(arguments):
        _check_literal_argument(name, arguments[position], position)


def _check_literal_argument(name: str, argument: exp.Expression, position: int) -> None:
    """A bounded literal where an unbounded value would let one call run for minutes."""
    what = "format" if name in ("printf", "format") else f"argument {position + 1}"
    if not (isinstance(argument, exp.Literal) and argument.is_string) or len(argument.this) > MAX_LITERAL_ARGUMENT:
        raise UnsafeQueryError(
            f"{name}() needs its {what} as a string literal of at most {MAX_LITERAL_ARGUMENT} characters"
        )
    if what == "format":
        for width, precision in _FORMAT_SPEC.findall(argument.this):
            if "*" in (width, precision) or max(len(width), len(precision)) > MAX_FORMAT_WIDTH_DIGITS:
                raise UnsafeQueryError(
                    f"{name}() widths and precisions must be literal numbers below {10 ** MAX_FORMAT_WIDTH_DIGITS} (no *)"
                )


def function_name(node: exp.Func, dialect: str | None = None) -> str:
    """The name a function call runs under in ``dialect``: lower-case, or exact where it was quoted."""
    if isinstance(node, exp.Anonymous):
        this = node.this
        if isinstance(this, exp.Identifier):
            return this.name if this.quoted and dialect in _CASE_SENSITIVE_QUOTES else this.name.lower()
        return str(this).lower()
    match = _CALL.match(node.sql(dialect=dialect, comments=False, normalize_functions=False))
    return match.group(1).lower() if match else node.sql_name().lower()


def _check_type(node: exp.DataType) -> None:
    kind = node.this
    if not isinstance(kind, exp.DataType.Type) or kind.name not in TYPES:
        raise UnsafeQueryError(
            f"the type {node.sql()[:40]} is not on the allow-list (cast to a built-in type such as text, int, numeric, date)"
        )


def _describe(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return f"the command {str(node.this).upper()}"
    if isinstance(node, exp.Lock):
        return "a row lock (FOR UPDATE/SHARE)"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO (it creates a table)"
    if isinstance(node, exp.Set):
        return "SET"
    if isinstance(node, exp.ObjectIdentifier):
        return f"the type {node.sql()} (an object identifier type)"
    if isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
        return f"the parameter {node.sql()[:30]}"
    names = {"TruncateTable": "TRUNCATE", "Transaction": "BEGIN", "LoadData": "LOAD DATA", "TableSample": "TABLESAMPLE"}
    kind = type(node).__name__
    return names.get(kind, kind.upper())
