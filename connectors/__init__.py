"""Connectors read sources: one module per type of source, each registering itself.

A type's module is imported only when a config names that type (see `ConnectorRegistry.get`):
some pull in heavy libraries (SQLAlchemy, httpx, BeautifulSoup) that the MCP server must not pay
for before it answers `initialize`.
"""

# Source `type` -> the module that registers it (its config model and connector).
BUILTIN_TYPES: dict[str, str] = {
    "files": "orgkb.connectors.files",
    "markdown_wiki": "orgkb.connectors.markdown_wiki.connector",
    "smb": "orgkb.connectors.smb",
    "mediawiki": "orgkb.connectors.mediawiki.connector",
    "mediawiki_dump": "orgkb.connectors.mediawiki.dump",
    "dokuwiki": "orgkb.connectors.dokuwiki",
    "confluence": "orgkb.connectors.confluence.connector",
    "sql": "orgkb.connectors.sql.config",
    "jsonl": "orgkb.connectors.jsonl",
}
