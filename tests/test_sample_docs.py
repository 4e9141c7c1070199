"""The bundled sample company answers its headline questions with the one right document."""

from __future__ import annotations


import pytest

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.search.searcher import Searcher
from tests.conftest import SAMPLE_DOCS


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> KnowledgeIndex:
    config = load_config(SAMPLE_DOCS / "orgkb.toml")
    config = config.model_copy(update={"data_dir": tmp_path_factory.mktemp("sample-index")})
    index = KnowledgeIndex(config, embedder=real_embedder)
    summary = Indexer(index).run()
    assert summary.ok and summary.total("failed") == 0, summary
    return index


@pytest.mark.parametrize(
    ("question", "expected_path", "expected_text"),
    [
        ("who approves expenses over the limit", "handbook/policies/expense-policy.md", "department"),
        ("how do I set up the VPN", "it/vpn-setup.html", "GlobalProtect"),
        ("when do we need three quotes from suppliers", "finance/procurement-guidelines.pdf", "quotes"),
        ("how often does the guest wifi password change", "it/wifi-networks.json", "guest"),
    ],
)
def test_headline_questions_find_the_right_document(
    sample_index: KnowledgeIndex, question: str, expected_path: str, expected_text: str
) -> None:
    hits = Searcher(sample_index).search(question, limit=5).hits
    top = hits[0]
    assert top.uri.split("#")[0].endswith(expected_path), [h.uri for h in hits]  # PDFs cite #page=N
    assert expected_text.lower() in (top.title + top.text).lower()
    assert top.uri.startswith("file://") and top.title


def test_forms_are_found_among_the_first_hits(sample_index: KnowledgeIndex) -> None:
    # The handbook also covers parental leave; the form must still rank near the top.
    hits = Searcher(sample_index).search("parental leave request form notice period", limit=5).hits
    assert any(h.uri.endswith("hr/parental-leave-request-form.docx") for h in hits[:2]), [h.uri for h in hits]


def test_sample_index_covers_every_format(sample_index: KnowledgeIndex) -> None:
    types = {d.file_type for d in sample_index.catalog.list_documents(limit=1000)}
    assert {"md", "html", "docx", "pdf", "csv", "json", "txt", "rst"} <= types


def test_pdf_hits_cite_pages(sample_index: KnowledgeIndex) -> None:
    hits = Searcher(sample_index).search("tender above 50,000 EUR", limit=3).hits
    pdf_hits = [h for h in hits if h.file_type == "pdf"]
    assert pdf_hits and all(h.location.page is not None for h in pdf_hits)
