"""Turning text into vectors with sentence-transformers, loaded lazily.

`import sentence_transformers` costs several seconds (torch, transformers), so nothing here
imports it until the first text is embedded or counted: the MCP server must answer
`initialize` before any of that happens.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from orgkb.server.config import DEFAULT_MODEL, EmbeddingConfig
from orgkb.server.embedding.models import DEFAULT_MODEL_NAME, LoadOnce, resolve_model_path
from orgkb.server.errors import OrgkbError

log = logging.getLogger(__name__)

# Prompt names models use in their sentence-transformers config, in order of preference.
QUERY_PROMPT_NAMES = ("query",)
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")
TOKEN_COUNT_SLICE = 2000  # texts tokenized per call when counting tokens


class Embedder(Protocol):
    """What the indexer and retrieval need from an embedding model."""

    @property
    def model_id(self) -> str:
        """A name identifying the model, stored with the index to detect a model change."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """Tokens per input the model reads (excluding special tokens); longer input is cut."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text takes, without special tokens."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised vectors for chunks."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """A normalised vector for a search query."""
        ...


class SentenceTransformerEmbedder:
    """An `Embedder` over a sentence-transformers model, loaded on first use (thread-safe)."""

    def __init__(self, config: EmbeddingConfig) -> None:
        self._config = config
        self._model = LoadOnce(self._load)

    @property
    def model_id(self) -> str:
        name = self._config.model
        return DEFAULT_MODEL_NAME if name == DEFAULT_MODEL else name

    def load(self) -> Any:
        """Load the model now (idempotent); return the SentenceTransformer."""
        return self._model()

    def _load(self) -> Any:
        location = resolve_model_path(self._config.model)
        from sentence_transformers import SentenceTransformer

        device = self._device()
        log.info("loading embedding model %s on %s", self.model_id, device)
        try:
            return SentenceTransformer(location.source, device=device, local_files_only=location.local)
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one actionable line
            raise OrgkbError(
                f"cannot load embedding model {self._config.model!r}: {exc}. "
                "Use model = \"default\" offline, or a local folder path."
            ) from exc

    def _device(self) -> str:
        if self._config.device != "auto":
            return self._config.device
        import torch

        if torch.cuda.is_available():
            return "cuda"
        return "cpu"

    @property
    def dimension(self) -> int:
        model = self.load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        model = self.load()
        # Two special tokens ([CLS], [SEP]) are added to every input and count against the limit,
        # and so does the text of the model's document prompt, put before every chunk.
        document_prompt = self.prompt_names()[1]
        prompt = (model.prompts or {}).get(document_prompt, "") if document_prompt else self._config.document_prefix
        return int(model.max_seq_length) - 2 - (self.count_tokens([prompt])[0] if prompt else 0)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        tokenizer = self.load().tokenizer
        counts: list[int] = []
        # In slices: a fast tokenizer keeps offsets and more per text, so one call over the
        # 130,000 paragraphs of a long document would hold hundreds of MB at once.
        for start in range(0, len(texts), TOKEN_COUNT_SLICE):
            part = list(texts[start : start + TOKEN_COUNT_SLICE])
            encoded = tokenizer(part, add_special_tokens=False, truncation=False)["input_ids"]
            counts.extend(len(ids) for ids in encoded)
        return counts

    def prompt_names(self) -> tuple[str | None, str | None]:
        """The model's own ``(query, document)`` prompt names (config_sentence_transformers.json).

        A configured ``query_prefix``/``document_prefix`` replaces the model's prompt. A side
        the model names no prompt for gets none, except the model's ``default_prompt_name``,
        which sentence-transformers applies by itself.
        """
        # sentence-transformers 5 lists empty "query"/"document" prompts for every model: ignored.
        prompts = {name: text for name, text in (getattr(self.load(), "prompts", None) or {}).items() if text}
        query = next((n for n in QUERY_PROMPT_NAMES if n in prompts), None) if not self._config.query_prefix else None
        document = (
            next((n for n in DOCUMENT_PROMPT_NAMES if n in prompts), None) if not self._config.document_prefix else None
        )
        return query, document

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        prefixed = [self._config.document_prefix + t for t in texts]
        model = self.load()
        with _QUERY_THREADS.batch():
            vectors = model.encode(
                prefixed,
                prompt_name=self.prompt_names()[1],
                batch_size=self._config.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        model = self.load()
        with _QUERY_THREADS.single():
            vector = model.encode(
                [self._config.query_prefix + text],
                prompt_name=self.prompt_names()[0],
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vector[0].tolist()


class _QueryThreads:
    """One torch thread for a query's embedding, never while a batch is being embedded.

    A single short input gains nothing from intra-op threads, and on a small busy machine they
    wait for each other: on 2 shared cores one thread embedded a query in 12 ms (p95 17 ms)
    against 20 ms (p95 300 ms) with two. Torch's thread count is process-wide, so it is only
    lowered while no batch embedding (live sync, a `reindex` call) runs in this process, and
    restored before a batch may start: a query never slows indexing down.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches = 0

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Embedding a batch: queries keep the thread count as it is meanwhile."""
        with self._lock:  # waits for a query that lowered the count to restore it
            self._batches += 1
        try:
            yield
        finally:
            with self._lock:
                self._batches -= 1

    @contextmanager
    def single(self) -> Iterator[None]:
        """Embedding one query: on one thread unless a batch is running."""
        import torch  # already loaded with the model

        with self._lock:
            if not self._batches:
                previous = torch.get_num_threads()
                torch.set_num_threads(1)
                try:
                    yield
                finally:
                    torch.set_num_threads(previous)
                return
        yield  # a batch is running: the query shares its threads


_QUERY_THREADS = _QueryThreads()

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """A deterministic bag-of-words embedder for tests of logic that does not depend on meaning.

    Texts sharing words get similar vectors, which is enough to test plumbing (incremental
    indexing, filters, MCP wiring) in milliseconds. Never used outside tests.
    """

    def __init__(self, dimension: int = 64, max_tokens: int = 128) -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self.embedded_texts: list[str] = []

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % self._dimension] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded_texts.extend(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def create_embedder(config: EmbeddingConfig) -> Embedder:
    """The embedder the config names (always sentence-transformers outside tests)."""
    return SentenceTransformerEmbedder(config)
