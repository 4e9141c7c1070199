"""Connectors read sources. Importing this package registers every built-in connector type."""

from connectors import dokuwiki, files, mediawiki, mediawiki_dump  # noqa: F401

__all__ = ["dokuwiki", "files", "mediawiki", "mediawiki_dump"]
