"""The data every connector produces, the one protocol they implement, and their registry.

Data flows one way: a connector lists `DocumentRef`s (cheap: id + version stamp), the indexer
asks it to `load` only those whose stamp changed, and a loaded `Document` carries sections with
heading paths and locations so every chunk can be cited precisely. A problem with one item is
yielded as a `Failure` rather than raised, so one bad file or page never aborts a run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from types import TracebackType
from typing import Literal
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from orgkb.connectors.identifiers import doc_id
from orgkb.connectors.permissions import Permissions, check_principal_names

MetadataValue = str | int | float | bool


class ConnectorError(Exception):
    """A source as a whole cannot be read (down, wrong URL, wrong credentials).

    The message is shown to the user as it is: say what failed and what to do about it.
    """


class CredentialsError(ConnectorError):
    """The source rejected the credentials (HTTP 401/403, bad password, missing permission)."""


class CursorExpired(ConnectorError):
    """The source can no longer say what changed since this cursor (its change log was trimmed).

    Raised by `IncrementalConnector.changes_since`; the indexer then runs a full sync instead.
    """


class SourceUnavailable(ValueError):
    """Raised by a source config validator when the config is right but what it names is not there
    now (a missing folder or file, an unmounted share).

    The config loader then disables that one source, with this message as the reason, and every
    other source keeps serving; any other validation error refuses the config.
    """


class DocumentError(Exception):
    """One document cannot be read or parsed; the rest of the source is unaffected."""

    skipped = False


class SkippedDocument(DocumentError):
    """A document deliberately not indexed (binary, unsupported); reported as skipped, not failed."""

    skipped = True


class Location(BaseModel):
    """Where a piece of text sits in its document, for citations."""

    model_config = ConfigDict(frozen=True)

    line_start: int | None = None
    line_end: int | None = None
    page: int | None = None

    def label(self) -> str:
        """A short human form such as ``p. 3`` or ``lines 10-24``."""
        parts = []
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.line_start is not None:
            end = self.line_end if self.line_end is not None else self.line_start
            parts.append(f"line {self.line_start}" if end == self.line_start else f"lines {self.line_start}-{end}")
        return ", ".join(parts)


class Section(BaseModel):
    """A run of text under one heading path.

    ``line_start`` is the 1-based line of the section's first text line in the source, when the
    format has lines; the chunker derives each chunk's line range from it. ``anchor`` is a
    fragment a reader can jump to (a wiki section), appended to the document uri in citations.
    """

    heading_path: list[str] = Field(default_factory=list)
    text: str
    line_start: int | None = None
    page: int | None = None
    anchor: str | None = None


class DocumentRef(BaseModel):
    """A document as a listing sees it: enough to decide whether it must be loaded again.

    ``version`` is a cheap change stamp (mtime+size, a revision id); when it equals the stored
    one the document is not loaded at all. ``document`` may carry the loaded document when the
    listing already has its content (a database row, a JSON line), saving a second read.
    ``permissions``, when the listing knows them, are what the loaded document would carry.
    """

    key: str
    version: str | None = None
    document: Document | None = None
    # A source whose permissions change without a new version (a wiki's ACLs, a page restriction)
    # lists them here: the indexer records them even when it does not load the document again.
    permissions: Permissions | None = None


class Document(BaseModel):
    """One citable unit of an organisation's knowledge: a file, a wiki page, a table row."""

    source: str
    key: str = Field(description="Stable id within the source, e.g. a relative path or page id.")
    title: str
    uri: str = Field(description="Where a person can open the original (file://, https://, ...).")
    sections: list[Section]
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    modified: datetime | None = None
    mime_type: str = "text/plain"
    version: str | None = None
    # Who may read it at the source; not part of `content_hash`, so a change re-embeds nothing.
    permissions: Permissions | None = None

    @property
    def id(self) -> str:
        """The document id across all sources: ``source:key``."""
        return doc_id(self.source, self.key)

    @property
    def content_hash(self) -> str:
        """A hash of everything that ends up in the index; equal hash means nothing to redo."""
        payload = {
            "title": self.title,
            "uri": self.uri,
            "sections": [s.model_dump() for s in self.sections],
            "metadata": self.metadata,
            "mime_type": self.mime_type,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @property
    def text(self) -> str:
        """The whole document as readable text, headings included as Markdown-style lines."""
        out: list[str] = []
        previous: list[str] = []
        for section in self.sections:
            path = section.heading_path
            if path and path != previous:
                # Print only the headings that changed, at their depth.
                common = 0
                while common < min(len(path), len(previous)) and path[common] == previous[common]:
                    common += 1
                for depth in range(common, len(path)):
                    out.append(f"{'#' * (depth + 1)} {path[depth]}")
            previous = path
            if section.text.strip():
                out.append(section.text.strip())
        return "\n\n".join(out)


DocumentRef.model_rebuild()


FailureScope = Literal["document", "folder"]


class Failure(BaseModel):
    """One item that could not be read, reported in the index summary and status.

    ``scope`` says what the key names: one document, or a folder whose listing failed (its
    documents are then kept as they are, not deleted; an empty key is the whole tree).
    """

    source: str
    key: str
    message: str
    skipped: bool = Field(default=False, description="Deliberately not indexed (binary, too large), not an error.")
    scope: FailureScope = Field(default="document", description="What `key` names: a document or a folder.")


class SourceConfig(BaseModel):
    """Settings every source has; each connector type extends this with its own keys.

    Unknown keys are errors, so a typo in the config file is reported instead of ignored.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    type: str
    sync_interval: float | None = Field(
        default=None, gt=0, description="Seconds between background syncs while `orgkb serve` runs."
    )
    full_sync_interval: float | None = Field(
        default=86400.0,
        gt=0,
        description="Sources with incremental sync list everything again after this many seconds, "
        "to reconcile what their change feed cannot report (e.g. pages purged without a trace).",
    )
    allow: list[str] | None = Field(
        default=None,
        description='Who may read every document of this source, replacing what the source says: "group:finance", "user:alice", "*".',
    )

    @field_validator("allow")
    @classmethod
    def _principal_names(cls, value: list[str] | None) -> list[str] | None:
        return check_principal_names(value)

    language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}$",
        description='The language every document of this source is written in ("ro", "en"); detected per '
        "document and section when unset.",
    )

    @staticmethod
    def resolve_path(value: str | Path, info: ValidationInfo) -> Path:
        """Resolve a path relative to the config file's folder (given in the validation context)."""
        path = Path(value).expanduser()
        base = (info.context or {}).get("base_dir")
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return path.resolve()


@runtime_checkable
class Connector(Protocol):
    """What every source implements.

    ``list_documents`` must list *every* document the source has now: the indexer deletes what
    a complete listing no longer contains. If the source cannot be listed completely it raises
    `ConnectorError` (nothing is deleted then); per-item problems are yielded as `Failure`.
    """

    config: SourceConfig

    def check(self) -> list[str]:
        """Verify the source is reachable and the credentials work; raise `ConnectorError`.

        Returns warnings that do not stop indexing (e.g. "this database role can write").
        """
        ...

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        """Yield a ref for every document, or a failure for an item that cannot be listed."""
        ...

    def load(self, ref: DocumentRef) -> Document:
        """Read and parse one document; raise `DocumentError` if it cannot be."""
        ...

    def close(self) -> None:
        """Release what the connector holds open (HTTP sessions, database pools, SMB sessions)."""
        ...


class BaseConnector:
    """Lifecycle every built-in connector shares: used as a context manager, closed at the end.

    The indexer opens a connector once per sync and always closes it (`open_connector`), so
    a connector may hold sessions and pools for the length of one sync and no longer.
    """

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> BaseConnector:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class Change(BaseModel):
    """What an incremental sync found: refs to (re)load and keys that are gone."""

    updated: list[DocumentRef] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    cursor: str


@runtime_checkable
class IncrementalConnector(Protocol):
    """A connector that can also report what changed since a cursor, cheaper than a full listing.

    A capability checked with ``isinstance`` on a `Connector`, so it names only its own methods.
    """

    def initial_cursor(self) -> str:
        """A cursor for "now", taken before a full listing so nothing is missed between them."""
        ...

    def changes_since(self, cursor: str) -> Change:
        """Changes after ``cursor``; raise `ConnectorError` if the source cannot answer.

        Raise `CursorExpired` when the source's change log no longer reaches back to ``cursor``.
        """
        ...


@runtime_checkable
class WatchableConnector(Protocol):
    """A source whose documents live in local folders: `orgkb serve` watches them for changes.

    Any connector reading a local folder (files, a Markdown wiki export) implements this, and
    a change under one of the folders re-indexes the source within seconds.
    """

    def watch_paths(self) -> list[Path]:
        """The local folders whose changes can change this source's documents."""
        ...


class ConnectorType(BaseModel):
    """A kind of source: the ``type`` name in the config file, its config model and its connector.

    Every connector module declares one (``CONNECTOR = ConnectorType(...)``) and names it in the
    ``orgkb.connectors`` entry-point group, built-ins and third-party plug-ins alike (see
    `orgkb.connectors.registry`). ``factory`` is the connector class, or ``"module:Class"`` when
    the class lives in a module with heavy imports that validating a config must not pay for.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    type: str
    config_model: type[SourceConfig]
    factory: Any
    description: str = ""
