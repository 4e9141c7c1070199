"""orgkb's indexing pipeline, retrieval and MCP server."""
