"""Chunking follows structure, respects the model's real token limit and keeps locations."""

from __future__ import annotations

from orgkb.connectors.base import Document, Section
from orgkb.connectors.identifiers import chunk_id
from orgkb.server.index.chunking import chunk_document
from orgkb.server.embedding.embedder import Embedder, HashingEmbedder


def _doc(*sections: Section, title: str = "Handbook") -> Document:
    return Document(source="s", key="k.md", title=title, uri="file:///k.md", sections=list(sections))


def test_chunks_never_cross_sections_and_keep_heading_paths() -> None:
    words = HashingEmbedder()
    doc = _doc(
        Section(heading_path=["Expenses"], text="Alpha one.\n\nAlpha two.", line_start=3),
        Section(heading_path=["Expenses", "Travel"], text="Beta.", line_start=9),
    )
    chunks = chunk_document(doc, words.count_tokens, 100)
    assert [c.heading_path for c in chunks] == [["Expenses"], ["Expenses", "Travel"]]
    assert chunks[0].text == "Alpha one.\n\nAlpha two."
    assert (chunks[0].location.line_start, chunks[0].location.line_end) == (3, 5)
    assert (chunks[1].location.line_start, chunks[1].location.line_end) == (9, 9)


def test_paragraph_line_ranges_when_packing_splits(hashing_embedder: HashingEmbedder) -> None:
    paragraphs = [" ".join(f"w{p}x{i}" for i in range(12)) for p in range(5)]
    text = "\n\n".join(paragraphs)  # paragraph p starts on line 10 + 2p
    chunks = chunk_document(_doc(Section(text=text, line_start=10)), hashing_embedder.count_tokens, 30)
    # 12 words per paragraph plus the title line: two paragraphs fit a 30-token chunk.
    assert [c.text.count("\n\n") + 1 for c in chunks] == [2, 2, 1]
    assert [(c.location.line_start, c.location.line_end) for c in chunks] == [(10, 12), (14, 16), (18, 18)]
    assert [c.ordinal for c in chunks] == [0, 1, 2]


def test_real_tokenizer_bounds_every_chunk(real_embedder: Embedder) -> None:
    # Long, wordy text with rare words (many word pieces each) and one huge run-on sentence.
    sentence = "Pneumonoultramicroscopicsilicovolcanoconiosis affects Llanfairpwllgwyngyll miners. "
    run_on = " ".join(["antidisestablishmentarianism"] * 400)
    doc = _doc(Section(heading_path=["Health and safety"], text=sentence * 60 + "\n\n" + run_on), title="Mining handbook")
    limit = real_embedder.max_tokens
    chunks = chunk_document(doc, real_embedder.count_tokens, limit)
    assert len(chunks) > 5
    sizes = real_embedder.count_tokens([c.embedding_text(doc.title) for c in chunks])
    assert max(sizes) <= limit
    # Nothing is lost: every word of the source is in some chunk.
    joined = " ".join(c.text for c in chunks)
    assert joined.count("antidisestablishmentarianism") == 400
    assert joined.count("Pneumonoultramicroscopicsilicovolcanoconiosis") == 60


def test_chunk_ids_are_deterministic_and_change_with_content() -> None:
    words = HashingEmbedder()
    doc = _doc(Section(text="Same text."))
    first = [c.id for c in chunk_document(doc, words.count_tokens, 50)]
    again = [c.id for c in chunk_document(doc, words.count_tokens, 50)]
    changed = [c.id for c in chunk_document(_doc(Section(text="Other text.")), words.count_tokens, 50)]
    assert first == again
    assert first != changed
    assert first[0] == chunk_id(doc.id, doc.content_hash, 0)


def test_a_split_paragraph_keeps_its_sentences_together(hashing_embedder: HashingEmbedder) -> None:
    sentences = [f"Sentence number {n} talks about topic {n}." for n in range(12)]
    paragraph = " ".join(sentences)
    doc = _doc(Section(text=f"{paragraph}\n\nA short closing paragraph.", line_start=1))
    chunks = chunk_document(doc, hashing_embedder.count_tokens, 40)
    assert len(chunks) > 2
    # No chunk invents paragraph breaks inside the long paragraph...
    body = [c.text for c in chunks if "closing" not in c.text]
    assert all("\n\n" not in text for text in body)
    assert " ".join(body).startswith("Sentence number 0 talks about topic 0. Sentence number 1")
    # ...and the real paragraph break before the closing paragraph survives.
    assert chunks[-1].text.endswith("\n\nA short closing paragraph.") or chunks[-1].text == "A short closing paragraph."
