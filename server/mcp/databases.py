"""MCP tools and resources for configured databases: list_tables, describe_table, sql_query.

Registered only when the config has `type = "sql"` sources. Every tool is read-only: a query
is checked statement by statement, runs in a read-only transaction with a timeout, and
returns at most a capped number of rows with a `truncated` flag.
"""

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.context import ServerRequestContext
from mcp_types import CallToolResult, ListToolsResult, TextContent
from pydantic import Field

from orgkb.connectors.identifiers import SCHEMA_PREFIX, SCHEMA_TABLE_TEMPLATE, decode_uri_part
from orgkb.server.app.databases import DescribedTable, QueryResult, TableList
from orgkb.server.app.service import OrgkbService
from orgkb.server.mcp.support import READ_ONLY, blocking, caller_of, caller_of_request, edit_tools_list

TOOL_DESCRIPTIONS = {
    "list_tables": (
        "List the tables and views of a configured database with their comments. Start here before "
        "writing SQL; `search` also finds tables by meaning (their descriptions are indexed)."
    ),
    "describe_table": (
        "Describe one table or view: columns with types, nullability and comments, primary and foreign "
        "keys, and about how many rows it has. Use it to write correct SQL for `sql_query`."
    ),
    "sql_query": (
        "Run ONE read-only SQL query (SELECT, WITH ... SELECT, UNION, VALUES) against a configured "
        "database and get rows back as columns + rows. Writes, locks, settings and side-effect functions "
        "are refused; long queries are cancelled. At most `limit` rows return; `truncated` says there were "
        "more, so aggregate or filter in SQL instead of paging through big results."
    ),
}


def register(server: MCPServer[Any], service: OrgkbService) -> None:
    """Add the database tools and schema resources when the config has sql sources.

    Source names are not enumerated in the tools' input schemas: a caller limited to other
    sources must not learn them. The view refuses a database the caller may not use.
    """
    if not service.has_databases:
        return
    _hide_from_callers_without_databases(server)
    descriptions = {**TOOL_DESCRIPTIONS, **service.server_settings.tool_descriptions}
    max_rows = service.database_row_cap

    @server.tool(name="list_tables", title="List database tables", description=descriptions["list_tables"], annotations=READ_ONLY)
    async def list_tables(
        ctx: Context,
        source: Annotated[str, Field(min_length=1, max_length=200, description="A database source (see list_sources).")],
    ) -> TableList:
        return await blocking(caller_of(ctx).list_tables, source)

    @server.tool(
        name="describe_table", title="Describe a database table", description=descriptions["describe_table"], annotations=READ_ONLY
    )
    async def describe_table(
        ctx: Context,
        source: Annotated[str, Field(min_length=1, max_length=200, description="A database source.")],
        table: Annotated[str, Field(min_length=1, max_length=200, description='Table or view name, e.g. "invoices" or "sales.invoices".')],
    ) -> DescribedTable:
        described = await blocking(caller_of(ctx).describe_table, source, table)
        text = described.as_text(described.database)
        return CallToolResult(content=[TextContent(text=text)], structured_content=described.model_dump(mode="json"))  # type: ignore[return-value]

    @server.tool(name="sql_query", title="Run a read-only SQL query", description=descriptions["sql_query"], annotations=READ_ONLY)
    async def sql_query(
        ctx: Context,
        source: Annotated[str, Field(min_length=1, max_length=200, description="A database source that allows queries.")],
        sql: Annotated[str, Field(min_length=1, max_length=20_000, description="One SELECT statement in the database's dialect.")],
        limit: Annotated[int | None, Field(ge=1, le=max_rows, description="Most rows to return (default: the source's default).")] = None,
    ) -> QueryResult:
        result = await blocking(caller_of(ctx).query, source, sql, limit)
        return CallToolResult(content=[TextContent(text=render_rows(result))], structured_content=result.model_dump(mode="json"))  # type: ignore[return-value]

    @server.resource(
        SCHEMA_PREFIX + "{source}",
        name="database-tables",
        title="Tables of a database source",
        description="The tables and views of a configured database source, with comments.",
        mime_type="text/plain",
    )
    async def read_table_listing(source: str, ctx: Context) -> str:
        return await _resource(caller_of(ctx).schema_text, decode_uri_part(source))

    @server.resource(
        SCHEMA_TABLE_TEMPLATE,
        name="table-schema",
        title="Database table description",
        description="Columns, types, comments and keys of a table in a configured database.",
        mime_type="text/plain",
    )
    async def read_table_schema(source: str, table: str, ctx: Context) -> str:
        return await _resource(caller_of(ctx).schema_text, decode_uri_part(source), decode_uri_part(table))


def _hide_from_callers_without_databases(server: MCPServer[Any]) -> None:
    """`tools/list` leaves the SQL tools out for a caller who may use no database source."""

    def edit(ctx: ServerRequestContext[Any, Any], result: ListToolsResult) -> ListToolsResult:
        if caller_of_request(ctx).database_sources():
            return result
        return result.model_copy(update={"tools": [t for t in result.tools if t.name not in TOOL_DESCRIPTIONS]})

    edit_tools_list(server, edit)


async def _resource(function: Any, *args: Any) -> Any:
    """Run blocking database work for a resource read; failures become resource errors."""
    try:
        return await blocking(function, *args)
    except ToolError as exc:
        raise ResourceError(str(exc)) from None


def render_rows(result: QueryResult, max_rows: int = 100) -> str:
    """Query rows as a tab-separated table for models that ignore structured content."""
    lines = ["\t".join(result.columns)]
    for row in result.rows[:max_rows]:
        lines.append("\t".join("NULL" if v is None else str(v).replace("\t", " ").replace("\n", " ") for v in row))
    shown = min(result.row_count, max_rows)
    note = f"{result.row_count} row(s)"
    if shown < result.row_count:
        note += f", first {shown} shown here (all {result.row_count} in the structured result)"
    if result.truncated:
        note += f"; TRUNCATED at limit={result.limit}: the query has more rows"
    return "\n".join([*lines, f"({note})"])
