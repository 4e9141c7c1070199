"""What a query may contain: the statement shapes, syntax, types and functions orgkb knows are safe.

The statement check (`orgkb.connectors.sql.guard`) refuses anything not listed here. Lists of
dangerous things can never be complete (PostgreSQL alone has functions that run a query passed
as a string, that signal other sessions, take advisory locks, read and write server files, and
every database may have functions its admin defined), so this module lists only what is known
to be pure: it reads its arguments and returns a value, never touches other sessions, files,
settings, sequences or locks, and never runs SQL text. A function is named as sqlglot renders
it in the dialect, i.e. as the database will run it (``strpos`` is rendered ``POSITION(...)``).

Adding a function: make sure it is pure for every argument (no SQL text, no table or file
name, no side effect), then add its name to the dialect's set and a query using it to the
"legitimate queries" tests.
"""

from __future__ import annotations

from sqlglot import exp

SYNTAX: frozenset[type[exp.Expression]] = frozenset({
    # statement shapes: SELECT, WITH ... SELECT, UNION/INTERSECT/EXCEPT, VALUES, subqueries
    exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery, exp.With, exp.CTE,
    exp.From, exp.Join, exp.Lateral, exp.Where, exp.Group, exp.GroupingSets, exp.Rollup, exp.Cube, exp.Having,
    exp.Order, exp.Ordered, exp.Limit, exp.LimitOptions, exp.Offset, exp.Fetch, exp.Distinct,
    exp.Window, exp.WindowSpec, exp.Filter, exp.WithinGroup,
    # names and values
    exp.Table, exp.TableAlias, exp.Alias, exp.Column, exp.Identifier, exp.Star, exp.Literal, exp.Boolean,
    exp.JSONKeyValue, exp.Null, exp.HexString, exp.BitString, exp.ByteString, exp.National, exp.Var, exp.Paren, exp.Tuple, exp.Bracket, exp.Slice, exp.Interval, exp.DataType,
    exp.DataTypeParam, exp.Kwarg, exp.Dot,
    exp.Lambda,  # sqlglot reads PostgreSQL's ``f(j -> 'k')`` as a lambda; it renders back as ``->``
    exp.JSONPath, exp.JSONPathKey, exp.JSONPathRoot, exp.JSONPathSubscript, exp.JSONPathWildcard,
    # operators
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg, exp.DPipe,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Is,
    exp.Not, exp.In, exp.Between, exp.Any, exp.All, exp.Like, exp.ILike, exp.Glob, exp.SimilarTo, exp.Escape,
    exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot, exp.BitwiseLeftShift, exp.BitwiseRightShift,
    exp.AtTimeZone, exp.Collate,
})
"""Node types (other than function calls) a query may contain. Not here, so refused: INSERT/
UPDATE/DELETE/MERGE (also inside WITH), SELECT ... INTO, FOR UPDATE/SHARE, SET, COPY, DDL,
transaction control, parameters, TABLESAMPLE (its methods can be extensions), and whatever
sqlglot could not parse (a `Command`)."""

SYNTAX_FUNCTIONS = frozenset({
    "And", "Or", "Case", "If", "Cast", "Extract", "Exists", "Array", "CurrentDate", "CurrentTime",
    "CurrentTimestamp", "Localtime", "Localtimestamp", "JSONExtract", "JSONExtractScalar", "JSONBExtract",
    "JSONBExtractScalar", "JSONBContains", "JSONBContainsTopKey", "JSONBContainsAnyTopKeys",
    "JSONBContainsAllTopKeys", "ArrayContainsAll", "ArrayOverlaps", "RegexpLike",
    "RegexpILike", "MatchAgainst", "TsOrDsToTimestamp", "TsOrDsToDate",
})
"""sqlglot function nodes that render as syntax rather than ``name(...)``: CASE, CAST, ``->``,
``->>``, ``@>``, ``~``, ``@@``, CURRENT_DATE, ..."""

TYPES = frozenset({
    "BIGINT", "INT", "SMALLINT", "TINYINT", "MEDIUMINT", "UBIGINT", "UINT", "USMALLINT", "UTINYINT", "DECIMAL",
    "DOUBLE", "FLOAT", "MONEY", "BOOLEAN", "TEXT", "VARCHAR", "CHAR", "NCHAR", "NVARCHAR", "BPCHAR", "NAME",
    "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPLTZ",
    "TIMESTAMPNTZ", "DATETIME", "INTERVAL", "JSON", "JSONB", "UUID", "BINARY", "VARBINARY", "BLOB", "INET",
    "ARRAY", "YEAR", "BIT", "DATERANGE", "INT4RANGE", "INT8RANGE", "NUMRANGE", "TSRANGE", "TSTZRANGE",
})
"""Built-in types a CAST may name. A user-defined type (or domain, or reg* type) is refused:
its input function may be anything."""

_STANDARD = frozenset({
    # aggregates
    "count", "sum", "avg", "min", "max",
    # window functions
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
    "first_value", "last_value", "nth_value",
    # conditionals and comparisons
    "coalesce", "nullif", "greatest", "least",
    # strings
    "lower", "upper", "length", "substring", "trim", "ltrim", "rtrim", "replace", "concat", "concat_ws",
    "left", "right", "lpad", "rpad", "reverse", "repeat", "char_length", "character_length",
    # numbers
    "abs", "round", "ceil", "ceiling", "floor", "sqrt", "power", "pow", "exp", "ln", "log", "log10", "log2",
    "mod", "sign", "pi", "random", "degrees", "radians", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
    # casts and dates
    "cast", "extract", "date", "exists",
})

POSTGRES = _STANDARD | frozenset({
    "string_agg", "array_agg", "bool_and", "bool_or", "every", "bit_and", "bit_or", "stddev", "stddev_samp",
    "stddev_pop", "variance", "var_samp", "var_pop", "corr", "covar_pop", "covar_samp", "regr_slope",
    "regr_intercept", "regr_r2", "regr_count", "regr_avgx", "regr_avgy", "percentile_cont", "percentile_disc",
    "mode", "grouping", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
    "octet_length", "bit_length", "position", "strpos", "btrim", "split_part", "initcap", "translate", "chr",
    "ascii", "starts_with", "format", "quote_ident", "quote_literal", "quote_nullable", "md5", "sha224",
    "sha256", "sha384", "sha512", "encode", "decode", "to_hex", "regexp_replace", "regexp_match",
    "regexp_matches", "regexp_split_to_array", "regexp_split_to_table", "regexp_like", "regexp_count",
    "regexp_instr", "regexp_substr", "string_to_array", "string_to_table", "normalize", "overlay", "substr",
    "trunc", "cbrt", "div", "width_bucket", "gcd", "lcm", "factorial", "scale", "num_nulls", "num_nonnulls",
    "now", "date_trunc", "date_part", "date_bin", "age", "make_date", "make_time", "make_timestamp",
    "make_timestamptz", "make_interval", "justify_days", "justify_hours", "justify_interval", "to_char",
    "to_date", "to_timestamp", "to_number", "isfinite", "timezone", "clock_timestamp", "statement_timestamp",
    "transaction_timestamp",
    "to_json", "to_jsonb", "row_to_json", "array_to_json", "json_build_object", "jsonb_build_object",
    "json_build_array", "jsonb_build_array", "json_object", "jsonb_object", "json_array_length",
    "jsonb_array_length", "json_extract_path", "jsonb_extract_path", "json_extract_path_text",
    "jsonb_extract_path_text", "json_typeof", "jsonb_typeof", "json_each", "jsonb_each", "json_each_text",
    "jsonb_each_text", "json_array_elements", "jsonb_array_elements", "json_array_elements_text",
    "jsonb_array_elements_text", "json_object_keys", "jsonb_object_keys", "json_strip_nulls",
    "jsonb_strip_nulls", "jsonb_pretty", "jsonb_set", "jsonb_insert", "jsonb_path_query",
    "jsonb_path_query_array", "jsonb_path_query_first", "jsonb_path_exists", "jsonb_path_match",
    "array_length", "cardinality", "array_to_string", "unnest", "array_position", "array_positions",
    "array_remove", "array_replace", "array_append", "array_prepend", "array_cat", "array_lower",
    "array_upper", "array_ndims", "array_dims", "array_fill", "generate_series", "generate_subscripts", "row",
    "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery", "ts_rank",
    "ts_rank_cd", "ts_headline", "setweight", "numnode", "querytree", "lower_inc", "upper_inc", "isempty",
    "gen_random_uuid", "pg_typeof",
})
"""PostgreSQL. Left out by construction, among others: functions that run SQL text (ts_stat,
ts_rewrite, query_to_xml and the other *_to_xml, cursor_to_xml, dblink*, xpath/xmltable),
other sessions and locks (pg_terminate_backend, pg_cancel_backend, pg_advisory_*), server files
and large objects (pg_read_file, pg_ls_dir, lo_*), settings (set_config, current_setting),
sequences (nextval, setval, currval), pg_sleep*, txid_*, pg_notify, and every user-defined
function."""

SQLITE = _STANDARD | frozenset({
    "total", "group_concat", "string_agg", "json_group_array", "json_group_object",
    "substr", "instr", "printf", "format", "hex", "unhex", "quote", "char", "unicode", "octet_length",
    "ifnull", "iif", "typeof", "trunc",
    "time", "datetime", "julianday", "strftime", "unixepoch", "timediff",
    "json", "json_extract", "json_array", "json_object", "json_array_length", "json_type", "json_valid",
    "json_quote", "json_each", "json_tree", "json_patch", "json_remove", "json_set", "json_insert",
    "json_replace",
})
"""SQLite. Left out: load_extension, the shell's readfile/writefile/edit, fts3_tokenizer,
randomblob/zeroblob (amplifiers with no analytical use), sqlite_* and connection-state functions."""

MYSQL = _STANDARD | frozenset({
    "group_concat", "json_arrayagg", "json_objectagg", "std", "stddev", "stddev_samp", "stddev_pop",
    "variance", "var_samp", "var_pop", "bit_and", "bit_or", "bit_xor",
    "substr", "substring_index", "locate", "instr", "position", "char", "ascii", "ord", "hex", "unhex",
    "format", "md5", "sha1", "sha2", "field", "find_in_set", "elt", "lcase", "ucase", "space", "strcmp",
    "regexp_replace", "regexp_like", "regexp_substr", "regexp_instr", "octet_length",
    "if", "ifnull", "truncate", "div", "rand", "crc32", "conv",
    "now", "curdate", "curtime", "current_date", "current_time", "current_timestamp", "date_format",
    "datediff", "date_add", "date_sub", "adddate", "subdate", "timestampdiff", "timestampadd", "str_to_date",
    "year", "month", "day", "dayofmonth", "dayofweek", "dayofyear", "week", "weekday", "quarter", "hour",
    "minute", "second", "last_day", "makedate", "from_unixtime", "unix_timestamp", "time_to_sec",
    "sec_to_time", "time_format", "monthname", "dayname", "str_to_date",
    "json_extract", "json_unquote", "json_length", "json_keys", "json_contains", "json_type", "json_valid",
    "json_object", "json_array", "json_search", "json_value",
})
"""MySQL/MariaDB (best effort, not tested against a server). Left out: sleep, benchmark,
load_file, get_lock and the other lock functions, and user-defined functions."""

LITERAL_ARGUMENTS: dict[str | None, dict[str, int]] = {
    "sqlite": {"printf": 0, "format": 0, "trim": 1, "ltrim": 1, "rtrim": 1},
}
"""Functions whose argument at this position must be a short string literal. SQLite cannot stop a
statement inside one function call, and these calls run for as long as that argument says:
``printf('%.*c', 2000000000, 'x')`` loops two billion times (41 s measured) even though its result
is cut, ``trim(x, y)`` compares every character of ``x`` with every character of ``y``."""
MAX_LITERAL_ARGUMENT = 100
MAX_FORMAT_WIDTH_DIGITS = 3
"""A printf/format width or precision in a format literal has at most this many digits (and no ``*``)."""

FUNCTIONS: dict[str | None, frozenset[str]] = {"postgres": POSTGRES, "sqlite": SQLITE, "mysql": MYSQL}
"""The allowed functions of each sqlglot dialect; any other dialect gets the standard ones only."""


def allowed_functions(dialect: str | None) -> frozenset[str]:
    """The function names a query in ``dialect`` may call."""
    return FUNCTIONS.get(dialect, _STANDARD)
