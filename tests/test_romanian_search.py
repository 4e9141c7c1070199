"""A Romanian subsidiary's documents, searched in Romanian: real model, real Chroma, real MCP session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from orgkb.server.app.service import OrgkbService
from orgkb.server.config import OrgkbConfig, load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.store.filters import SearchFilters
from orgkb.server.search.retrieval import fts_query
from orgkb.server.search.searcher import Searcher
from tests.mcp_helpers import hit_doc_id
from tests.conftest import PROJECT_ROOT, SAMPLE_DOCS, orgkb_command, subprocess_env, write_config

SOURCES = [
    {"name": "romania", "type": "files", "paths": [str(SAMPLE_DOCS / "romania")]},
    {"name": "wiki-ro", "type": "markdown_wiki", "path": str(SAMPLE_DOCS / "wiki-ro")},
    {"name": "handbook", "type": "files", "paths": [str(SAMPLE_DOCS / "handbook")]},
]
LEAVE = "romania:politici/politica-concediilor.md"
ARCHITECTURE = "wiki-ro:Arhitectura platformei.md"
OFFICE = "wiki-ro:Biroul din Cluj.md"


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("romanian") / "orgkb.toml", SOURCES, server={"live": {"enabled": False}})


@pytest.fixture(scope="module")
def index(config_path: Path, real_embedder: Embedder) -> KnowledgeIndex:
    built = KnowledgeIndex(load_config(config_path), embedder=real_embedder)
    summary = Indexer(built).run()
    assert summary.ok and summary.total("failed") == 0, summary
    return built


def _doc_ids(response: Any) -> list[str]:
    return list(dict.fromkeys(h.doc_id for h in response.hits))


def test_documents_and_sections_carry_their_language(index: KnowledgeIndex) -> None:
    leave = index.catalog.get_document(LEAVE)
    assert leave is not None and leave.metadata["language"] == "ro"
    assert index.catalog.get_document("handbook:employee-handbook.md").metadata["language"] == "en"  # type: ignore[union-attr]
    # The architecture page is Romanian with one English section.
    chunks = index.catalog.document_chunks(ARCHITECTURE)
    by_heading = {c.heading_path[-1]: c.language for c in chunks}
    assert by_heading["Stratul de ingestie"] == "ro"
    assert by_heading["Release checklist (English summary for the group)"] == "en"
    assert index.catalog.languages() == ["en", "ro"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("cine aprobă cererile de concedii", LEAVE),  # page: "Cererea ... este aprobată", "concediu"
        ("cine aproba cererile de concedii", LEAVE),  # typed without diacritics
        ("straturile platformei", ARCHITECTURE),  # page: "Stratul de ingestie", "construită pe straturi"
        ("parola retelei pentru oaspeti", OFFICE),  # page in legacy cedilla forms: "Reţeaua", "oaspeţi"
        ("ecusoanele de acces", OFFICE),  # page: "Ecusonul de acces"
    ],
)
def test_romanian_keyword_search_meets_other_inflections_and_spellings(
    index: KnowledgeIndex, question: str, expected: str
) -> None:
    assert _doc_ids(Searcher(index).search(question, mode="keyword", limit=3))[0] == expected


def test_a_word_porter_would_mangle_still_finds_its_romanian_page(index: KnowledgeIndex) -> None:
    # English rules stem "straturile" to "straturil", which no page contains; Romanian rules to "strat".
    assert fts_query("straturile", ["en"]) == '"straturil"'
    assert ARCHITECTURE in _doc_ids(Searcher(index).search("straturile", mode="keyword"))


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_a_language_filter_applies_in_each_index(index: KnowledgeIndex, mode: str) -> None:
    searcher = Searcher(index)
    for language in ("ro", "en"):
        response = searcher.search(
            "approval policy aprobare", mode=mode, limit=20, filters=SearchFilters(metadata={"language": language})  # type: ignore[arg-type]
        )
        assert response.hits, (mode, language)
        for hit in response.hits:
            document = index.catalog.get_document(hit.doc_id)
            assert document is not None and document.metadata["language"] == language, (mode, hit.doc_id)


def test_hits_and_sources_name_their_languages(index: KnowledgeIndex) -> None:
    hit = Searcher(index).search("concediul medical", mode="keyword", limit=1).hits[0]
    assert hit.language == "ro"
    sources = {s.name: s.languages for s in OrgkbService(index).local().list_sources().sources}
    assert sources["romania"] == ["ro"]
    assert sources["wiki-ro"] == ["ro", "en"]  # mostly Romanian, one English section
    assert sources["handbook"] == ["en"]


def test_hybrid_leans_on_keywords_for_a_language_the_model_lacks(index: KnowledgeIndex) -> None:
    searcher = Searcher(index)
    romanian = searcher.search("cine aprobă cererile de concediu", limit=3)
    assert any("not trained on" in n and "(ro)" in n for n in romanian.notices), romanian.notices
    assert _doc_ids(romanian)[0] == LEAVE
    english = searcher.search("who approves expenses over the limit", limit=3)
    assert not any("not trained on" in n for n in english.notices)


def test_a_model_declared_multilingual_gets_no_correction(index: KnowledgeIndex) -> None:
    embedding = index.config.embedding.model_copy(update={"languages": ["*"]})
    config: OrgkbConfig = index.config.model_copy(update={"embedding": embedding})
    declared = KnowledgeIndex(config, embedder=index.embedder, store=index.store)
    response = Searcher(declared).search("cine aprobă cererile de concediu", limit=3)
    assert not any("not trained on" in n for n in response.notices)


async def _mcp_checks(config: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orgkb.server", "--config", str(config), "serve"],
        env=subprocess_env(), cwd=str(PROJECT_ROOT),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for query, expected in [
            ("câte zile de concediu de odihnă primesc", LEAVE),
            ("cate zile de concediu de odihna primesc", LEAVE),
            ("restaurarea bazelor de date din copiile de siguranta", "romania:runbooks/restaurarea-din-backup.md"),
            ("straturile platformei de prognoza", ARCHITECTURE),
        ]:
            result = await session.call_tool("search", {"query": query, "limit": 3})
            assert not result.is_error, result.content
            hits = result.structured_content["hits"]
            assert hit_doc_id(hits[0]) == expected, (query, [hit_doc_id(h) for h in hits])
            if expected != ARCHITECTURE:  # that page's best passage may be its English section
                assert hits[0]["language"] == "ro"
        for mode in ("keyword", "semantic"):
            filtered = await session.call_tool(
                "search", {"query": "approval aprobare", "mode": mode, "limit": 20, "metadata": {"language": "en"}}
            )
            ids = [hit_doc_id(h) for h in filtered.structured_content["hits"]]
            assert ids and all(i.startswith("handbook:") for i in ids), (mode, ids)
        sources = (await session.call_tool("list_sources", {})).structured_content["sources"]
        assert {s["name"]: s["languages"] for s in sources}["romania"] == ["ro"]


def test_romanian_questions_through_an_mcp_session(config_path: Path, index: KnowledgeIndex) -> None:
    del index  # built in this process; the server below opens the same data directory
    subprocess.run(orgkb_command("--config", str(config_path), "index"), check=True, env=subprocess_env(), capture_output=True)
    anyio.run(_mcp_checks, config_path)
