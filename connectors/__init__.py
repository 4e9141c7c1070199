"""Connectors read sources. Importing this package registers every built-in connector type."""

from connectors import (  # noqa: F401
    confluence,
    dokuwiki,
    files,
    jsonl,
    markdown_wiki,
    mediawiki,
    mediawiki_dump,
    smb,
    sql,
)

__all__ = ["confluence", "dokuwiki", "files", "jsonl", "markdown_wiki", "mediawiki", "mediawiki_dump", "smb", "sql"]
