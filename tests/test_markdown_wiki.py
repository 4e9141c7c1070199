"""Markdown wiki folders: titles, [[wikilinks]], MkDocs navigation, and the real search path."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from orgkb.connectors.base import Document, DocumentRef
from orgkb.connectors.markdown_wiki.connector import MarkdownWikiConfig, MarkdownWikiConnector
from orgkb.connectors.markdown_wiki.wikilinks import PageIndex, rewrite_links
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.search.searcher import Searcher
from tests.conftest import SAMPLE_DOCS, IndexFactory


def _write(path: Path, text: str, *, bump: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if bump:  # a clearly later modification time: it is part of the version stamp
        later = time.time() + 60
        os.utime(path, (later, later))


def _documents(root: Path) -> dict[str, Document]:
    connector = MarkdownWikiConnector(MarkdownWikiConfig.model_validate({"name": "w", "type": "markdown_wiki", "path": str(root)}))
    return {ref.key: connector.load(ref) for ref in connector.list_documents() if isinstance(ref, DocumentRef)}


def test_wikilinks_read_as_titles_and_aliases() -> None:
    pages = PageIndex(["Home.md", "guides/VPN Setup.md", "Release-Process.md", "other/VPN Setup.md"])
    titles = {"guides/VPN Setup.md": "Setting up the VPN", "Release-Process.md": "Release process"}
    text = "\n".join([
        "See [[VPN Setup]] and [[guides/VPN Setup#Linux|the Linux steps]].",
        "Ship with [[Release Process#Rollout]] or [[release steps|Release-Process]].",
        "![[diagram.png]] ![[VPN Setup]] [[#Local heading]] [[Missing Page]]",
        "```",
        "[[not a link in code]]",
        "```",
    ])
    result = rewrite_links(text, "Home.md", pages, lambda path: titles.get(path, path))
    assert result.text.split("\n") == [
        "See Setting up the VPN and the Linux steps.",
        "Ship with Release process > Rollout or release steps.",
        " Setting up the VPN Local heading Missing Page",
        "```",
        "[[not a link in code]]",
        "```",
    ]
    assert result.links == ["Setting up the VPN", "Release process", "Missing Page"]
    # A folder-qualified link prefers the page next to the linking one.
    assert pages.resolve("VPN Setup", "other/x.md") == "guides/VPN Setup.md"
    assert pages.resolve("../other/VPN Setup", "guides/x.md") == "other/VPN Setup.md"


def test_titles_front_matter_and_ignored_folders(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    _write(vault / "Onboarding-Guide.md", "Welcome aboard. Read [[Travel]] first.\n")
    _write(vault / "Travel.md", "---\ntitle: Travel and expenses\ntags: [travel, money]\n---\n\nBook trains over flights.\n")
    _write(vault / "Meeting Rooms.md", "# Booking a room\n\nUse the calendar.\n")
    _write(vault / ".obsidian" / "workspace.md", "# Editor state\n")
    _write(vault / ".trash" / "Deleted page.md", "# Old\n")
    _write(vault / "attachments" / "diagram.png", "not markdown")
    docs = _documents(vault)
    assert set(docs) == {"Onboarding-Guide.md", "Travel.md", "Meeting Rooms.md"}
    guide, travel = docs["Onboarding-Guide.md"], docs["Travel.md"]
    assert guide.title == "Onboarding Guide"
    assert "Read Travel and expenses first." in guide.text
    assert guide.metadata["links"] == "Travel and expenses"
    assert travel.title == "Travel and expenses"
    assert travel.metadata["tags"] == "travel, money"
    assert docs["Meeting Rooms.md"].title == "Booking a room"


def test_mkdocs_navigation_titles(tmp_path: Path) -> None:
    project = tmp_path / "handbook"
    _write(project / "mkdocs.yml", "site_name: Handbook\nmarkdown_extensions:\n  - pymdownx.emoji:\n"
                                   "      emoji_index: !!python/name:material.extensions.emoji.twemoji\n"
                                   "nav:\n  - Start: index.md\n  - Guides:\n      - Setting up your laptop: guides/laptop.md\n")
    _write(project / "docs" / "index.md", "# Welcome\n\nThe handbook.\n")
    _write(project / "docs" / "guides" / "laptop.md", "# Laptop\n\nInstall the VPN first.\n")
    _write(project / "site" / "index.md", "# Built copy\n")
    for root in (project, project / "docs"):
        docs = _documents(root)
        assert {key: d.title for key, d in docs.items()} == {"index.md": "Start", "guides/laptop.md": "Setting up your laptop"}


def test_team_wiki_is_searchable_and_follows_edits(tmp_path: Path, make_index: IndexFactory, real_embedder: Embedder) -> None:
    wiki = tmp_path / "team-wiki"
    shutil.copytree(SAMPLE_DOCS / "team-wiki", wiki)
    index = make_index([{"name": "team-wiki", "type": "markdown_wiki", "path": str(wiki)}], real_embedder)
    first = Indexer(index).run().sources[0]
    assert (first.error, first.added, first.failed) == (None, 6, 0)

    hit = Searcher(index).search("how long does a new forecast model run in shadow mode", limit=3).hits[0]
    assert hit.title == "Forecast Model Release Process"
    assert hit.heading_path[-1] == "3. Shadow mode"
    assert hit.uri == (wiki / "Forecast-Model-Release-Process.md").as_uri()
    assert hit.location.line_start is not None
    assert "Monday model review" in hit.text and "[[" not in hit.text

    # Renaming a page's title rewrites the pages that link to it, and only those are embedded again.
    store = wiki / "Feature Store.md"
    _write(store, store.read_text(encoding="utf-8").replace("owner: Marta Sousa", "title: Feature Catalogue\nowner: Marta Sousa"), bump=True)
    renamed = Indexer(index).run().sources[0]
    assert (renamed.updated, renamed.unchanged) == (3, 3)  # the page, Home and the release process link to it
    home = index.catalog.get_document("team-wiki:Home.md")
    assert home is not None and "The rules are on Feature Catalogue." in home.as_document().text
    assert "Feature Catalogue" in str(home.metadata["links"])

    (wiki / "Glossary.md").unlink()
    removed = Indexer(index).run().sources[0]
    assert removed.deleted == 1
    for mode in ("hybrid", "semantic", "keyword"):
        hits = Searcher(index).search("what does WAPE stand for", limit=5, mode=mode).hits
        assert all(h.title != "Glossary" for h in hits), mode


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="folder not found"):
        MarkdownWikiConfig.model_validate({"name": "w", "type": "markdown_wiki", "path": str(tmp_path / "gone")})
