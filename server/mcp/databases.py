"""MCP tools and resources for configured databases: list_tables, describe_table, sql_query.

Registered only when the config has `type = "sql"` sources. Every tool is read-only: a query
is checked statement by statement, runs in a read-only transaction with a timeout, and
returns at most a capped number of rows with a `truncated` flag.
"""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import Field

from orgkb.server.mcp.app import READ_ONLY, blocking
from orgkb.server.app.service import KnowledgeService
from orgkb.server.app.databases import DescribedTable, QueryResult, SqlService, TableList

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


def register(server: MCPServer[Any], service: KnowledgeService) -> None:
    """Add the database tools and schema resources for the config's sql sources (if any)."""
    config = service.index.config
    databases = SqlService(config)
    if not databases.sources:
        return
    descriptions = {**TOOL_DESCRIPTIONS, **config.server.tool_descriptions}
    source_type: Any = Literal[tuple(databases.sources)]  # type: ignore[valid-type]
    query_sources = databases.query_sources
    max_rows = max((databases.sources[name].max_rows for name in query_sources), default=1)

    @server.tool(name="list_tables", title="List database tables", description=descriptions["list_tables"], annotations=READ_ONLY)
    async def list_tables(
        source: Annotated[source_type, Field(description="A database source (see list_sources).")],
    ) -> TableList:
        return await blocking(databases.list_tables, source)

    @server.tool(
        name="describe_table", title="Describe a database table", description=descriptions["describe_table"], annotations=READ_ONLY
    )
    async def describe_table(
        source: Annotated[source_type, Field(description="A database source.")],
        table: Annotated[str, Field(min_length=1, max_length=200, description='Table or view name, e.g. "invoices" or "sales.invoices".')],
    ) -> DescribedTable:
        described = await blocking(databases.describe_table, source, table)
        text = described.as_text(described.database)
        return CallToolResult(content=[TextContent(text=text)], structured_content=described.model_dump(mode="json"))  # type: ignore[return-value]

    if query_sources:
        query_type: Any = Literal[tuple(query_sources)]  # type: ignore[valid-type]

        @server.tool(name="sql_query", title="Run a read-only SQL query", description=descriptions["sql_query"], annotations=READ_ONLY)
        async def sql_query(
            source: Annotated[query_type, Field(description="A database source that allows queries.")],
            sql: Annotated[str, Field(min_length=1, max_length=20_000, description="One SELECT statement in the database's dialect.")],
            limit: Annotated[int | None, Field(ge=1, le=max_rows, description="Most rows to return (default: the source's default).")] = None,
        ) -> QueryResult:
            result = await blocking(databases.query, source, sql, limit)
            return CallToolResult(content=[TextContent(text=render_rows(result))], structured_content=result.model_dump(mode="json"))  # type: ignore[return-value]

    for name in databases.sources:
        _register_listing(server, databases, name)

    @server.resource(
        "orgkb://schema/{source}/{table}",
        name="table-schema",
        title="Database table description",
        description="Columns, types, comments and keys of a table in a configured database.",
        mime_type="text/plain",
    )
    async def read_table_schema(source: str, table: str) -> str:
        return await _resource(databases.schema_text, source, table)


def _register_listing(server: MCPServer[Any], databases: SqlService, source: str) -> None:
    @server.resource(
        f"orgkb://schema/{source}",
        name=f"{source}-tables",
        title=f"Tables of {source}",
        description=f"The tables and views of the database source {source}, with comments.",
        mime_type="text/plain",
    )
    async def read_listing() -> str:
        listing: TableList = await _resource(databases.list_tables, source)
        lines = [f"Tables of {source} ({listing.database}); read orgkb://schema/{source}/<table> for columns:"]
        for table in listing.tables:
            lines.append(f"- {table.name} ({table.kind})" + (f": {table.comment}" if table.comment else ""))
        return "\n".join(lines)


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
