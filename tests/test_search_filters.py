"""Filters apply inside both indexes, before truncation, in every mode.

Two thousand chunks that match the query better than anything else would fill every
candidate pool; a filter that selects three weaker documents must still return exactly
those. A hashing embedder keeps indexing fast: this is about plumbing, not meaning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.store.filters import SearchFilters
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.search.searcher import Searcher
from tests.conftest import write_config

QUERY = "quarterly budget report"
MODES = ["hybrid", "semantic", "keyword"]
TARGETS = [
    {"_id": "kb-1", "title": "Budget archive", "text": "The old budget figures, report of 2021.", "team": "blue",
     "priority": 1, "archived": False, "date": "2021-05-01T00:00:00Z"},
    {"_id": "kb-2", "title": "Planning", "text": "Quarterly planning notes and a budget outline.", "team": "blue",
     "priority": 2, "archived": False, "date": "2023-06-01T00:00:00Z"},
    {"_id": "kb-3", "title": "Review", "text": "A report reviewing spending.", "team": "red",
     "priority": 3, "archived": True, "date": "2024-02-01T00:00:00Z"},
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeIndex]:
    root = tmp_path_factory.mktemp("filters")
    noise = root / "noise.jsonl"
    with noise.open("w", encoding="utf-8") as handle:
        for number in range(2000):
            text = f"Quarterly budget report {number}: the quarterly budget report for the budget quarter."
            handle.write(json.dumps({"_id": f"n-{number}", "title": "Quarterly budget report", "text": text}) + "\n")
    targets = root / "targets.jsonl"
    targets.write_text("\n".join(json.dumps(t) for t in TARGETS) + "\n", encoding="utf-8")
    config = write_config(
        root / "orgkb.toml",
        [
            {"name": "noise", "type": "jsonl", "paths": [str(noise)]},
            {"name": "kb", "type": "jsonl", "paths": [str(targets)], "modified_field": "date",
             "metadata_fields": ["team", "priority", "archived"]},
        ],
        search={"candidates": 50},
    )
    knowledge = KnowledgeIndex(load_config(config), embedder=HashingEmbedder())
    summary = Indexer(knowledge).run()
    assert summary.total("added") == 2003 and summary.total("failed") == 0
    yield knowledge
    knowledge.close()


def _found(index: KnowledgeIndex, mode: str, **filters: object) -> set[str]:
    response = Searcher(index).search(QUERY, limit=10, mode=mode, filters=SearchFilters(**filters))  # type: ignore[arg-type]
    return {hit.doc_id for hit in response.hits}


@pytest.mark.parametrize("mode", MODES)
def test_unfiltered_the_targets_are_crowded_out(index: KnowledgeIndex, mode: str) -> None:
    assert not _found(index, mode) & {"kb:kb-1", "kb:kb-2", "kb:kb-3"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"sources": ["kb"]}, {"kb-1", "kb-2", "kb-3"}),
        ({"path_prefix": "kb-"}, {"kb-1", "kb-2", "kb-3"}),
        ({"metadata": {"team": "blue"}}, {"kb-1", "kb-2"}),
        ({"metadata": {"team": "blue", "priority": 2}}, {"kb-2"}),
        ({"metadata": {"archived": True}}, {"kb-3"}),
        ({"modified_after": datetime(2023, 1, 1, tzinfo=UTC)}, {"kb-2", "kb-3"}),
        ({"modified_before": datetime(2023, 1, 1, tzinfo=UTC)}, {"kb-1"}),
        ({"modified_after": datetime(2022, 1, 1, tzinfo=UTC), "modified_before": datetime(2024, 1, 1, tzinfo=UTC)}, {"kb-2"}),
        ({"sources": ["kb"], "file_types": ["pdf"]}, set()),
        ({"path_prefix": "nothing-"}, set()),
    ],
)
def test_filters_reach_weak_matches_in_both_indexes(
    index: KnowledgeIndex, mode: str, filters: dict[str, object], expected: set[str]
) -> None:
    assert _found(index, mode, **filters) == {f"kb:{key}" for key in expected}


def test_file_type_filter_matches_the_connectors_type(index: KnowledgeIndex) -> None:
    for mode in MODES:
        assert _found(index, mode, sources=["kb"], file_types=["jsonl"]) == {"kb:kb-1", "kb:kb-2", "kb:kb-3"}


def test_bad_metadata_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="may only use"):
        SearchFilters(metadata={"team; DROP TABLE": "x"})


def test_source_and_prefix_combine(index: KnowledgeIndex, tmp_path: Path) -> None:
    # A prefix in one source must not pull in a same-named key of another.
    assert _found(index, "hybrid", sources=["noise"], path_prefix="kb-") == set()
    assert _found(index, "keyword", sources=["noise"], path_prefix="n-1999") == {"noise:n-1999"}
