"""How far one document may expand: characters of text, chunks, parse time and memory.

A small file can expand enormously (a 42 KB JSON file flattened to 48 MB of text, a 2 MB
.docx that unzips to gigabytes, YAML aliases repeating one value thousands of times), so the
limits hold on what a document *becomes*, not on its size on disk. A document over a limit is
reported as a failure with a one-line reason naming the setting, and never half-indexed: its
previous indexed version, if any, stays.

Every file-based source (files, smb, markdown_wiki) has these as ``[sources.limits]``, all
optional; other sources get the defaults for the checks the indexer makes (characters,
chunks)::

    [[sources]]
    name = "share"
    type = "files"
    paths = ["/srv/share"]
    limits = { max_chars = 20_000_000, parse_seconds = 120 }

Parsers charge the text they produce to a `TextBudget` (see `text_budget`), so a blow-up stops
as soon as it passes the limit instead of after it has filled memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from pydantic import BaseModel, ConfigDict, Field

from orgkb.connectors.base import DocumentError, MetadataValue


class DocumentLimits(BaseModel):
    """Per-document budgets; the defaults fit any ordinary office document many times over."""

    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(
        default=5_000_000, ge=1000, description="Characters of text (sections and headings) one document may expand to."
    )
    # Chunks are what a document costs to embed: 2,000 is about 600 pages of prose and ~90 s
    # on two CPU cores. A 317 KB .docx of 130,000 tiny paragraphs is ~2,800 full chunks; on
    # a machine with a GPU, raise it.
    max_chunks: int = Field(default=2_000, ge=1, description="Chunks one document may be cut into (its embedding cost).")
    parse_seconds: float = Field(default=30.0, gt=0, le=3600, description="Seconds parsing one file may take.")
    parse_memory_mb: int = Field(
        default=1024, ge=64, description="Memory (MB) parsing one file may use, on top of the parser process itself."
    )
    max_metadata_keys: int = Field(default=32, ge=0, description="Metadata fields kept per document; the rest are dropped.")
    max_metadata_chars: int = Field(
        default=1000, ge=16, description="Longest metadata value kept (longer ones are cut); metadata is copied into every chunk."
    )


class LimitExceeded(DocumentError):
    """A document expands past one of its `DocumentLimits`; the message names the setting."""


def megabytes(count: int) -> str:
    """``48 MB`` for 48,000,000 (characters or bytes), with one decimal below 10."""
    value = count / 1_000_000
    return f"{value:.1f} MB" if value < 10 else f"{value:.0f} MB"


def chars_exceeded(count: int, limit: int, *, at_least: bool = False) -> LimitExceeded:
    """The error for a document of ``count`` characters (``at_least``: parsing stopped there)."""
    size = f"more than {megabytes(count)}" if at_least else megabytes(count)
    return LimitExceeded(f"document expands to {size} of text, over the {megabytes(limit)} limit (limits.max_chars)")


class TextBudget:
    """Characters a parser may still produce for one document."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, count: int) -> None:
        """Account for ``count`` more characters; raise `LimitExceeded` once over the limit."""
        self.used += count
        if self.used > self.limit:
            raise chars_exceeded(self.used, self.limit, at_least=True)


_BUDGET: ContextVar[TextBudget | None] = ContextVar("orgkb_text_budget", default=None)


def charge(count: int) -> None:
    """Charge ``count`` characters to the current document's budget (no-op outside `text_budget`)."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge(count)


@contextlib.contextmanager
def text_budget(limit: int) -> Iterator[TextBudget]:
    """Parse one document under a budget of ``limit`` characters (see `charge`)."""
    budget = TextBudget(limit)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def text_size(sections: list[object], title: str | None = None) -> int:
    """Characters of a document's text: every section's text and heading path, and the title."""
    total = len(title or "")
    for section in sections:
        total += len(getattr(section, "text", "")) + sum(len(h) for h in getattr(section, "heading_path", ()))
    return total


def check_text_size(sections: list[object], title: str | None, limits: DocumentLimits) -> None:
    """Raise `LimitExceeded` when a parsed document is over ``limits.max_chars``."""
    size = text_size(sections, title)
    if size > limits.max_chars:
        raise chars_exceeded(size, limits.max_chars)


def check_chunk_count(count: int, limits: DocumentLimits) -> None:
    """Raise `LimitExceeded` when a document was cut into more than ``limits.max_chunks`` chunks."""
    if count > limits.max_chunks:
        raise LimitExceeded(f"document is cut into {count:,} chunks, over the limit of {limits.max_chunks:,} (limits.max_chunks)")


def cap_metadata(metadata: Mapping[str, MetadataValue], limits: DocumentLimits) -> dict[str, MetadataValue]:
    """At most ``max_metadata_keys`` fields, string values cut to ``max_metadata_chars``.

    Metadata is copied into every chunk's vector record, so one long front matter value would
    otherwise be stored thousands of times.
    """
    capped: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if len(capped) >= limits.max_metadata_keys:
            break
        if isinstance(value, str) and len(value) > limits.max_metadata_chars:
            value = value[: limits.max_metadata_chars - 1] + "…"
        capped[key[:100]] = value
    return capped


DEFAULT_LIMITS = DocumentLimits()


def limits_of(config: object) -> DocumentLimits:
    """The limits a source config sets (``config.limits``), else the defaults."""
    limits = getattr(config, "limits", None)
    return limits if isinstance(limits, DocumentLimits) else DEFAULT_LIMITS
