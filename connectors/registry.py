"""Which connector reads a source ``type``: entry points of the ``orgkb.connectors`` group.

orgkb's own connectors are declared in its pyproject.toml exactly as a plug-in declares its
own, so a third party adds a source type by installing a distribution, without editing orgkb:

    [project.entry-points."orgkb.connectors"]
    notes = "orgkb_notes:CONNECTOR"      # a `ConnectorType` whose `type` is "notes"

An entry point is loaded only when a config names its type (validating a config imports the
connector's config model, never a heavy library), and every module it loads imports
`orgkb.connectors.base`, never this registry, so there is no import loop.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points

from orgkb.connectors.base import Connector, ConnectorType, SourceConfig

ENTRY_POINT_GROUP = "orgkb.connectors"

_loaded: dict[str, ConnectorType] = {}
_lock = threading.Lock()


class UnknownConnectorType(LookupError):
    """No installed distribution provides a source ``type``; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def _entry_points() -> dict[str, EntryPoint]:
    # Looked up on each miss: a plug-in installed while a server runs is found without a restart.
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def connector_types() -> list[str]:
    """Every source type an installed distribution provides (or this process registered)."""
    return sorted({*_entry_points(), *_loaded})


def connector_type(name: str) -> ConnectorType:
    """The connector type called ``name``; `UnknownConnectorType` names the known ones."""
    with _lock:
        if name in _loaded:
            return _loaded[name]
        point = _entry_points().get(name)
        if point is None:
            raise UnknownConnectorType(f"unknown source type {name!r} (known: {', '.join(connector_types())})")
        declared = point.load()
        if not isinstance(declared, ConnectorType) or declared.type != name:
            raise UnknownConnectorType(
                f"source type {name!r}: the entry point {point.value!r} is not a ConnectorType named {name!r}"
            )
        _loaded[name] = declared
        return declared


def build_connector(config: SourceConfig) -> Connector:
    """A connector for a validated source config (not yet opened: see `open_connector`)."""
    factory = connector_type(config.type).factory
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
    connector: Connector = factory(config)
    return connector


@contextmanager
def open_connector(config: SourceConfig) -> Iterator[Connector]:
    """A connector for one sync or check, always closed afterwards (sessions, pools)."""
    connector = build_connector(config)
    try:
        yield connector
    finally:
        close = getattr(connector, "close", None)
        if callable(close):
            close()


def register(declared: ConnectorType) -> None:
    """Add a source type for this process only (a program embedding orgkb, or a test).

    Installed plug-ins need no call: their entry point is found on first use.
    """
    with _lock:
        _loaded[declared.type] = declared
