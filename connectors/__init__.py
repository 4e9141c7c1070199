"""Connectors read sources: one module (or package) per type of source.

Each declares a `ConnectorType` (its config model and connector class), named in the
``orgkb.connectors`` entry-point group (see `orgkb.connectors.registry`); a type's module is
imported only when a config names that type, so the MCP server never pays for SQLAlchemy,
httpx or BeautifulSoup before it answers `initialize`.
"""
