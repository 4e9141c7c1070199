"""Connectors read sources: one module per type of source, each registering itself.

A type's module is imported only when a config names that type (see `ConnectorRegistry.get`):
some pull in heavy libraries (SQLAlchemy, httpx, BeautifulSoup) that the MCP server must not pay
for before it answers `initialize`.
"""

# Source `type` -> the module that registers it (its config model and connector).
BUILTIN_TYPES: dict[str, str] = {
    "files": "connectors.files",
    "markdown_wiki": "connectors.markdown_wiki",
    "smb": "connectors.smb",
    "mediawiki": "connectors.mediawiki",
    "mediawiki_dump": "connectors.mediawiki_dump",
    "dokuwiki": "connectors.dokuwiki",
    "confluence": "connectors.confluence",
    "sql": "connectors.sql_config",
    "jsonl": "connectors.jsonl",
}
