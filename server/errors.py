"""The few errors a user sees. Each message says what failed and what to do about it."""


class OrgkbError(Exception):
    """Base of every error orgkb reports to a user as one line (no traceback)."""


class ConfigError(OrgkbError):
    """The config file is missing, unreadable or invalid."""


class IndexMismatchError(OrgkbError):
    """The index was built with another embedding model than the configured one."""


class NotFoundError(OrgkbError):
    """A document, source or uri that the index does not have."""


class IndexBusyError(OrgkbError):
    """Another process holds the data directory's writer lock (it is indexing, or serving with live sync)."""


class InvalidArgumentError(OrgkbError):
    """A request's argument is out of range or malformed; the message names it and the rule."""
