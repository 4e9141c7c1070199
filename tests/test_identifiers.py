"""Identifiers: every file name survives the trip to a resource uri and back."""

from __future__ import annotations

import os

import pytest

from orgkb.connectors.identifiers import (
    doc_id,
    doc_id_prefix_of_uri,
    document_uri,
    parse_document_uri,
    schema_uri,
    source_of_uri,
    split_doc_id,
)

AWKWARD_KEYS = [
    "plain/readme.md",
    "notes/50% off #1.md",
    "literal%2e.txt",
    "line\nbreak.txt",
    "spaces and ünïcödé/ș ț ă.md",
    "query?x=1&y=2.txt",
    "colon:in:key.md",
    os.fsdecode(b"latin1-\xe9t\xe9.txt"),  # a name that is not UTF-8, carried as surrogate escapes
]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_document_uris_round_trip_any_key(key: str) -> None:
    uri = document_uri("hand.book", key)
    assert "\n" not in uri and " " not in uri and "#" not in uri
    assert parse_document_uri(uri) == ("hand.book", key)
    assert parse_document_uri(uri + "#Section") == ("hand.book", key)
    assert source_of_uri(uri) == "hand.book"


def test_doc_ids_split_at_the_first_colon() -> None:
    assert split_doc_id(doc_id("crm", "invoices:42")) == ("crm", "invoices:42")
    with pytest.raises(ValueError):
        split_doc_id("no-colon")


def test_partial_uris_complete_to_doc_id_prefixes() -> None:
    assert doc_id_prefix_of_uri("orgkb://documents/hand") == "hand"
    assert doc_id_prefix_of_uri("orgkb://docu") == ""
    assert doc_id_prefix_of_uri(document_uri("handbook", "po")) == "handbook:po"
    assert doc_id_prefix_of_uri("https://example.org/") is None


def test_schema_uris_name_their_source() -> None:
    assert source_of_uri(schema_uri("crm")) == "crm"
    assert source_of_uri(schema_uri("crm", "invoices")) == "crm"
    assert source_of_uri("orgkb://status") is None
    assert parse_document_uri(schema_uri("crm", "invoices")) is None
