"""The config sections for indexing and search: embedding, chunking, store, search."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODEL = "default"


class Section(BaseModel):
    """A config table: unknown keys are errors, so a misspelt key is reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


class EmbeddingConfig(Section):
    """Which sentence-transformers model embeds chunks and queries."""

    model: str = Field(
        default=DEFAULT_MODEL,
        description='"default" (all-MiniLM-L6-v2, packaged, works offline), a Hugging Face name or a local path.',
    )
    device: str = Field(default="auto", description='"auto" (CUDA when present), "cpu", "cuda", "cuda:1", "mps".')
    batch_size: int = Field(default=32, ge=1, le=4096)
    query_prefix: str = Field(
        default="",
        description='Text put before queries ("query: "); default: the model\'s own "query" prompt, if it has one.',
    )
    document_prefix: str = Field(
        default="", description='Text put before chunks; default: the model\'s own "document"/"passage" prompt.'
    )
    languages: list[str] | None = Field(
        default=None,
        description='Languages the model was trained on (["en", "ro"], or ["*"] for any); default: known for the '
        "packaged and the common multilingual models, else assumed to cover every language.",
    )


class ChunkingConfig(Section):
    """How documents are cut into chunks."""

    max_tokens: int | None = Field(
        default=None, ge=16, description="Chunk size in model tokens; default: the model's own limit."
    )


class StoreConfig(Section):
    """Where vectors live: embedded Chroma in the data directory, or a Chroma server."""

    kind: Literal["persistent", "http"] = "persistent"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    ssl: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    token_env: str | None = Field(
        default=None, description="Env var holding a token sent as `Authorization: Bearer ...` to the server."
    )
    collection: str = Field(default="orgkb", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,60}[A-Za-z0-9]$")


class SearchConfig(Section):
    """Defaults for search; every one can also be set per query."""

    default_limit: int = Field(default=8, ge=1, le=100)
    max_limit: int = Field(default=50, ge=1, le=1000)
    max_chunks_per_document: int = Field(default=2, ge=1, le=50, description="Most chunks one document contributes.")
    merge_neighbours: bool = Field(default=True, description="Join adjacent chunks of one section into one passage.")
    min_score: float | None = Field(
        default=None, description="Hits scoring below this are dropped (cosine, BM25 or fused score, by mode)."
    )
    min_relevance: float = Field(
        default=0.05, ge=0.0, le=1.0,
        description="Relevance floor (calibrated, 0-1): hits below it are dropped; when none reaches it the result "
        "says nothing relevant was found and shows at most `weak_candidates` hits, marked weak.",
    )
    # 0.05: SciFact's base rate of a relevant document among a query's first 20 hits, i.e. a hit
    # must be likelier than an average candidate to answer.
    weak_candidates: int = Field(default=2, ge=0, le=10, description="Weak hits shown when nothing reaches the floor.")
    max_tokens: int = Field(
        default=1200, ge=100, le=100_000,
        description="Default token budget of a search result's passages (about 4 characters a token).",
    )
    candidates: int = Field(default=200, ge=10, le=5000, description="Chunks each index contributes before fusion.")
    fusion: Literal["zscore", "rrf"] = Field(
        default="zscore", description="How hybrid mode combines the indexes: standardised scores, or reciprocal ranks."
    )
    semantic_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Share of the vector index in hybrid fusion (the rest is BM25)."
    )
    foreign_semantic_weight: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="semantic_weight for a query in a language the embedding model was not trained on "
        "(embedding.languages): the lexical index, which stems that language, leads.",
    )
    rrf_k: float = Field(default=60.0, gt=0, description="The k of reciprocal rank fusion (fusion = \"rrf\").")
    rerank_model: str | None = Field(
        default=None, description="A sentence-transformers CrossEncoder (local folder or cached name); off when unset."
    )
    rerank_candidates: int = Field(default=30, ge=1, le=500, description="Passages the reranker rescores per query.")
    rerank_device: str = Field(default="auto", description='"auto" (CUDA when present), "cpu", "cuda", "mps".')

