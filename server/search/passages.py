"""Shaping fused candidates into cited hits: per-document caps, merged neighbours, grouping.

Pure functions over fused scores and catalog chunks (no index access), so each rule is tested
on its own:

- A document's first passage carries the document's score and keeps the document's place in
  the ranking; its other chunks compete on their own scores, so a weak second passage never
  pushes out another document's best.
- At most ``per_doc`` chunks of a document are used. Hits come in ranked order (a passage
  where its own score places it, not next to its document's first), and a hit never shows a
  higher score than the one above it, so the scores a client sees read in falling order.
- Chunks next to each other in one section (same heading path, anchor and page) become one
  passage with the combined line range: a reader gets continuous text, not two fragments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from orgkb.connectors.base import Location
from orgkb.connectors.identifiers import document_uri
from orgkb.server.store.catalog import StoredChunk
from orgkb.server.store.records import context_line
from orgkb.server.search.fusion import Fused


class SearchHit(BaseModel):
    """One cited passage: a chunk, or adjacent chunks of one section merged."""

    score: float = Field(
        description="Retrieval relevance, higher is better: cosine similarity (semantic), BM25 (keyword), or the "
        "fused score (hybrid: weighted standard scores, above 0 means better than the average candidate)."
    )
    rerank_score: float | None = Field(default=None, description="The cross-encoder's score, when reranked.")
    relevance: float = Field(default=0.0, description="Calibrated probability in [0, 1] that the passage answers the query.")
    weak: bool = Field(default=False, description="Below the relevance floor: shown only because nothing better was found.")
    text: str
    title: str
    uri: str = Field(description="Where a person opens the original, with a #section anchor or #page=N where known.")
    resource_uri: str = Field(description="orgkb:// uri to read the whole indexed document (resources/read, fetch).")
    source: str
    doc_id: str
    chunk_id: str
    chunk_ids: list[str] = Field(default_factory=list, description="Every chunk merged into this passage, in order.")
    heading_path: list[str] = Field(default_factory=list)
    location: Location = Field(default_factory=Location)
    modified: datetime | None = None
    file_type: str = ""
    language: str | None = Field(default=None, description='The passage\'s language ("en", "ro"), detected or configured.')

    @property
    def label(self) -> str:
        """``Title › Heading › Subheading``."""
        return context_line(self.title, self.heading_path).replace(" > ", " › ")

    @property
    def citation(self) -> str:
        """A one-line reference: ``Title › Heading (lines 3-9) <uri>``."""
        where = self.location.label()
        return f"{self.label}{f' ({where})' if where else ''} <{self.uri}>"


@dataclass
class Entry:
    """A chunk that may become (part of) a hit, with the score it is ranked by."""

    chunk_id: str
    doc_id: str
    score: float
    rerank_score: float | None = None


def candidate_entries(
    fused: Fused, doc_of: Callable[[str], str | None], depth: int, per_doc: int
) -> list[tuple[str, str, float, float]]:
    # Called before the catalog lookup, so it may return a few more chunks than survive it.
    """``(chunk_id, doc_id, chunk score, document score)`` for the best ``per_doc`` chunks of the first ``depth`` documents."""
    by_doc: dict[str, list[tuple[float, str]]] = {}
    for chunk_id, score in fused.chunks.items():
        doc = doc_of(chunk_id)
        if doc is not None:
            by_doc.setdefault(doc, []).append((score, chunk_id))
    out: list[tuple[str, str, float, float]] = []
    for doc, doc_score in fused.documents[:depth]:
        best = sorted(by_doc.get(doc, []), key=lambda item: (-item[0], item[1]))[:per_doc]
        out.extend((chunk_id, doc, score, doc_score) for score, chunk_id in best)
    return out


def rank_entries(candidates: list[tuple[str, str, float, float]], floor: float | None) -> list[Entry]:
    """Entries best first, documents in the fused order.

    A document's first chunk carries the document's score and keeps the document's place; its
    other chunks rank by their own scores, each placed before the first later document whose
    score is lower (so a weak second passage never outranks another document's best).
    """
    heads: list[Entry] = []
    others: list[Entry] = []
    seen_docs: set[str] = set()
    for chunk_id, doc, chunk_score, doc_score in candidates:
        headline = doc not in seen_docs
        seen_docs.add(doc)
        # Capped at the document's score: a passage never looks better than its document's best.
        entry = Entry(chunk_id, doc, doc_score if headline else min(chunk_score, doc_score))
        if floor is None or entry.score >= floor:
            (heads if headline else others).append(entry)
    others.sort(key=lambda e: (-e.score, e.chunk_id))
    emitted: set[str] = set()
    ranked: list[Entry] = []
    for head in heads:
        waiting = [e for e in others if e.doc_id in emitted and e.score >= head.score]
        ranked.extend(waiting)
        others = [e for e in others if e not in waiting]
        ranked.append(head)
        emitted.add(head.doc_id)
    ranked.extend(e for e in others if e.doc_id in emitted)
    return ranked


def assemble_hits(
    entries: list[Entry], chunks: dict[str, StoredChunk], limit: int, per_doc: int, *, merge: bool = True
) -> list[SearchHit]:
    """Up to ``limit`` hits from ranked entries: capped per document, neighbours merged, in ranked order."""
    accepted: dict[str, list[Entry]] = {}
    passages = 0
    for entry in entries:
        chunk = chunks.get(entry.chunk_id)
        taken = accepted.get(entry.doc_id, [])
        if chunk is None or len(taken) >= per_doc:
            continue
        grown = [*taken, entry]
        count = passages - len(_groups(taken, chunks, merge)) + len(_groups(grown, chunks, merge))
        if count > limit:
            continue  # only a chunk that extends an accepted passage still fits
        accepted[entry.doc_id] = grown
        passages = count
    position = {entry.chunk_id: rank for rank, entry in enumerate(entries)}
    ranked: list[tuple[int, SearchHit]] = []
    for doc_entries in accepted.values():
        for group in _groups(doc_entries, chunks, merge):
            ranked.append((min(position[e.chunk_id] for e in group), _hit(group, chunks)))
    ranked.sort(key=lambda item: item[0])
    # Each hit shows at most the score of the hit above it, so the scores read in falling order
    # while the ranking (fused, or the reranker's) decides the order itself.
    hits: list[SearchHit] = []
    for _, hit in ranked:
        if hits and hit.score > hits[-1].score:
            hit = hit.model_copy(update={"score": hits[-1].score})
        hits.append(hit)
    return hits


def passage_text(chunk: StoredChunk) -> str:
    """A chunk with its ``Title > Heading`` line, as a reranker should read it."""
    context = context_line(chunk.title, chunk.heading_path)
    return f"{context}\n{chunk.text}" if context else chunk.text


def _groups(entries: list[Entry], chunks: dict[str, StoredChunk], merge: bool) -> list[list[Entry]]:
    """A document's entries as passages: runs of adjacent chunks, in the order their best entry ranked."""
    rank = {entry.chunk_id: position for position, entry in enumerate(entries)}
    ordered = sorted(entries, key=lambda e: chunks[e.chunk_id].ordinal)
    groups: list[list[Entry]] = []
    for entry in ordered:
        if merge and groups and _adjacent(chunks[groups[-1][-1].chunk_id], chunks[entry.chunk_id]):
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return sorted(groups, key=lambda group: min(rank[e.chunk_id] for e in group))


def _adjacent(before: StoredChunk, after: StoredChunk) -> bool:
    return (
        after.ordinal == before.ordinal + 1
        and after.heading_path == before.heading_path
        and after.anchor == before.anchor
        and after.location.page == before.location.page
    )


def _hit(group: list[Entry], chunks: dict[str, StoredChunk]) -> SearchHit:
    parts = [chunks[e.chunk_id] for e in group]
    first = parts[0]
    starts = [p.location.line_start for p in parts if p.location.line_start is not None]
    ends = [p.location.line_end for p in parts if p.location.line_end is not None]
    location = Location(
        line_start=min(starts) if starts else None, line_end=max(ends) if ends else None, page=first.location.page
    )
    uri = first.uri
    if first.anchor and "#" not in uri:
        uri = f"{uri}#{first.anchor}"
    elif first.location.page is not None and "#" not in uri:
        uri = f"{uri}#page={first.location.page}"  # PDF viewers open the page (RFC 8118)
    reranked = [e.rerank_score for e in group if e.rerank_score is not None]
    return SearchHit(
        score=round(max(e.score for e in group), 6),
        rerank_score=round(max(reranked), 6) if reranked else None,
        text="\n\n".join(p.text for p in parts),
        title=first.title,
        uri=uri,
        resource_uri=document_uri(first.source, first.key),
        source=first.source,
        doc_id=first.doc_id,
        chunk_id=first.chunk_id,
        chunk_ids=[p.chunk_id for p in parts],
        heading_path=first.heading_path,
        location=location,
        modified=datetime.fromtimestamp(first.modified, tz=UTC) if first.modified is not None else None,
        file_type=first.file_type,
        language=first.language,
    )
