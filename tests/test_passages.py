"""Shaping fused candidates into hits: per-document cap, merged neighbours, grouping, floor."""

from __future__ import annotations

from orgkb.connectors.base import Location
from orgkb.server.store.catalog import StoredChunk
from orgkb.server.search.fusion import Fused
from orgkb.server.search.passages import assemble_hits, candidate_entries, rank_entries


def _chunk(doc: str, ordinal: int, heading: str = "Body", lines: tuple[int, int] | None = None) -> StoredChunk:
    start, end = lines or (ordinal * 10 + 1, ordinal * 10 + 9)
    return StoredChunk(
        chunk_id=f"{doc}{ordinal}", doc_id=doc, ordinal=ordinal, text=f"text of {doc}{ordinal}",
        heading_path=[heading], location=Location(line_start=start, line_end=end), anchor=None,
        source="s", key=doc, title=f"Title {doc}", uri=f"file:///{doc}.md", file_type="md", modified=None,
    )


def _hits(fused: Fused, chunks: list[StoredChunk], limit: int, per_doc: int, floor: float | None = None, merge: bool = True):  # type: ignore[no-untyped-def]
    by_id = {c.chunk_id: c for c in chunks}
    candidates = candidate_entries(fused, lambda cid: by_id[cid].doc_id if cid in by_id else cid[0], limit + 10, per_doc)
    entries = rank_entries([c for c in candidates if c[0] in by_id], floor)
    return assemble_hits(entries, by_id, limit, per_doc, merge=merge)


def test_at_most_n_chunks_per_document() -> None:
    chunks = [_chunk("A", 0), _chunk("A", 2), _chunk("A", 4), _chunk("B", 0)]
    fused = Fused(documents=[("A", 3.0), ("B", 1.0)], chunks={"A0": 3.0, "A2": 2.9, "A4": 2.8, "B0": 1.0})
    assert [h.chunk_id for h in _hits(fused, chunks, limit=10, per_doc=2)] == ["A0", "A2", "B0"]
    assert [h.chunk_id for h in _hits(fused, chunks, limit=10, per_doc=1)] == ["A0", "B0"]


def test_adjacent_chunks_of_one_section_merge_into_one_passage() -> None:
    chunks = [_chunk("A", 3, lines=(30, 38)), _chunk("A", 4, lines=(39, 47)), _chunk("B", 0)]
    fused = Fused(documents=[("A", 2.0), ("B", 1.0)], chunks={"A4": 2.0, "A3": 1.5, "B0": 1.0})
    hits = _hits(fused, chunks, limit=2, per_doc=2)
    # Two chunks of A make one passage, so the limit of 2 still leaves room for B.
    assert [h.chunk_ids for h in hits] == [["A3", "A4"], ["B0"]]
    merged = hits[0]
    assert merged.text == "text of A3\n\ntext of A4"
    assert (merged.location.line_start, merged.location.line_end) == (30, 47)
    assert merged.score == 2.0 and merged.chunk_id == "A3"
    unmerged = _hits(fused, chunks, limit=3, per_doc=2, merge=False)
    assert [h.chunk_ids for h in unmerged] == [["A4"], ["A3"], ["B0"]]


def test_chunks_of_different_sections_stay_apart() -> None:
    chunks = [_chunk("A", 0, heading="Intro"), _chunk("A", 1, heading="Method")]
    fused = Fused(documents=[("A", 1.0)], chunks={"A0": 1.0, "A1": 0.9})
    assert [h.heading_path for h in _hits(fused, chunks, limit=5, per_doc=2)] == [["Intro"], ["Method"]]


def test_a_weak_second_passage_never_pushes_out_another_documents_best() -> None:
    # A's second chunk (0.1) ranks by its own score, below B's document score (1.0).
    chunks = [_chunk("A", 0), _chunk("A", 5), _chunk("B", 0)]
    fused = Fused(documents=[("A", 2.0), ("B", 1.0)], chunks={"A0": 2.0, "A5": 0.1, "B0": 1.0})
    assert [h.chunk_id for h in _hits(fused, chunks, limit=2, per_doc=2)] == ["A0", "B0"]
    # With room, it comes where its score puts it: hits are in the order of the score they show.
    hits = _hits(fused, chunks, limit=3, per_doc=2)
    assert [h.chunk_id for h in hits] == ["A0", "B0", "A5"]
    assert [h.score for h in hits] == [2.0, 1.0, 0.1]


def test_a_strong_second_passage_ranks_with_its_document() -> None:
    chunks = [_chunk("A", 0), _chunk("A", 5), _chunk("B", 0), _chunk("C", 0)]
    fused = Fused(documents=[("A", 3.0), ("B", 1.0), ("C", 0.5)], chunks={"A0": 3.0, "A5": 2.5, "B0": 1.0, "C0": 0.5})
    hits = _hits(fused, chunks, limit=3, per_doc=2)
    assert [(h.chunk_id, h.score) for h in hits] == [("A0", 3.0), ("A5", 2.5), ("B0", 1.0)]


def test_score_floor_drops_weak_hits() -> None:
    chunks = [_chunk("A", 0), _chunk("A", 5), _chunk("B", 0)]
    fused = Fused(documents=[("A", 2.0), ("B", 0.4)], chunks={"A0": 2.0, "A5": 0.3, "B0": 0.4})
    assert [h.chunk_id for h in _hits(fused, chunks, limit=5, per_doc=2, floor=0.5)] == ["A0"]
    assert len(_hits(fused, chunks, limit=5, per_doc=2, floor=None)) == 3


def test_a_stale_chunk_is_skipped_and_the_documents_next_chunk_leads() -> None:
    # A0 is in the vector store but no longer in the catalog (its document is being replaced).
    chunks = [_chunk("A", 5), _chunk("B", 0)]
    fused = Fused(documents=[("A", 2.0), ("B", 1.0)], chunks={"A0": 2.0, "A5": 0.2, "B0": 1.0})
    hits = _hits(fused, chunks, limit=5, per_doc=2)
    assert [(h.chunk_id, h.score) for h in hits] == [("A5", 2.0), ("B0", 1.0)]


def test_documents_keep_the_fused_order_even_when_their_scores_do_not_follow_it() -> None:
    # Fusion may place a lower-scoring document first (rank fusion decides the first places).
    chunks = [_chunk("A", 0), _chunk("B", 0), _chunk("B", 3)]
    fused = Fused(documents=[("A", 1.0), ("B", 2.0)], chunks={"A0": 1.0, "B0": 2.0, "B3": 1.5})
    hits = _hits(fused, chunks, limit=5, per_doc=2)
    assert [h.chunk_id for h in hits] == ["A0", "B0", "B3"]
    # The scores shown never rise down the list.
    assert [h.score for h in hits] == [1.0, 1.0, 1.0]
