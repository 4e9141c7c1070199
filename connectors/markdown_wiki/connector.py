"""Markdown wiki folders (`type = "markdown_wiki"`): Obsidian vaults, GitHub/GitLab wikis, MkDocs.

The files connector's `TreeScanner` and `LocalTree` do the walking, filtering, version stamps
and parsing; this module adds what makes a folder of Markdown a wiki: a page's title (MkDocs
``nav``, front matter ``title``, first heading, else the file name with dashes as spaces),
``[[wikilinks]]`` rewritten as the linked page's title, and the outgoing links as metadata.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from orgkb.connectors.base import BaseConnector, ConnectorError, ConnectorType, Document, DocumentError, DocumentRef, Failure, SourceConfig, SourceUnavailable
from orgkb.connectors.files import LocalTree
from orgkb.connectors.filetree import FileFilterConfig, TreeScanner
from orgkb.connectors.formats import ParsedFile, SkipFile
from orgkb.connectors.formats.markdown import parse as parse_markdown
from orgkb.connectors.formats.text import decode_text
from orgkb.connectors.markdown_wiki.wikilinks import MARKDOWN_SUFFIXES, PageIndex, rewrite_links

log = logging.getLogger(__name__)

# Editor state, trash and generated sites are not pages.
WIKI_EXCLUDE = [".obsidian/", ".trash/", "_site/"]


class MarkdownWikiConfig(FileFilterConfig):
    """A folder of Markdown pages that link to each other."""

    type: Literal["markdown_wiki"] = "markdown_wiki"
    path: Path = Field(description="The wiki's folder (an Obsidian vault, a cloned wiki, an MkDocs project or its docs/).")
    include: list[str] = Field(default_factory=lambda: [f"*{s}" for s in MARKDOWN_SUFFIXES], description="Globs of pages.")
    follow_symlinks: bool = Field(default=True, description="Follow links that stay inside the folder.")

    @field_validator("path", mode="after")
    @classmethod
    def _resolve_path(cls, value: Path, info: ValidationInfo) -> Path:
        full = SourceConfig.resolve_path(value, info)
        if not full.is_dir():
            raise SourceUnavailable(f"folder not found: {full}")
        return full


class WikiScanner(TreeScanner):
    """A `TreeScanner` that lists Markdown pages only and parses them as wiki pages."""

    def __init__(self, tree: LocalTree, config: MarkdownWikiConfig, nav_titles: dict[str, str]) -> None:
        super().__init__(tree, config)
        self.exclude.extend(WIKI_EXCLUDE)
        self.nav_titles = nav_titles
        self.pages = PageIndex([])
        self._titles: dict[str, str] = {}

    def walk(self) -> Iterator[DocumentRef | Failure]:
        """Refs for every page, each stamped with the wiki's overall state as well as its own.

        A page's text depends on the titles of the pages it links to, so any change in the wiki
        gives every page a new stamp: each is read again (cheap, local) but only pages whose
        text really changed are embedded again (the indexer compares content hashes).
        """
        items = [item for item in super().walk() if not _is_other_file(item)]
        refs = [item for item in items if isinstance(item, DocumentRef)]
        self.pages = PageIndex([self.path_of(ref.key) for ref in refs])
        self._titles.clear()
        state = hashlib.sha1("\n".join(f"{r.key}\t{r.version}" for r in refs).encode()).hexdigest()[:12]
        for item in items:
            if isinstance(item, DocumentRef):
                yield item.model_copy(update={"version": f"{item.version}:{state}"})
            else:
                yield item

    def parse(self, path: str, data: bytes) -> ParsedFile:
        rewritten = rewrite_links(decode_text(data), path, self.pages, self.title_of)
        parsed = parse_markdown(rewritten.text, posixpath.basename(path))
        metadata = dict(parsed.metadata)
        if rewritten.links:
            metadata["links"] = ", ".join(rewritten.links)
        title = self.nav_titles.get(path) or parsed.title or _title_from_name(path)
        return parsed.model_copy(update={"title": title, "metadata": metadata})

    def title_of(self, path: str) -> str:
        """A page's title as its own document would have it (read once per sync)."""
        if path not in self._titles:
            title = self.nav_titles.get(path)
            if title is None:
                try:
                    title = parse_markdown(decode_text(self.tree.read(path)), posixpath.basename(path)).title
                except (OSError, SkipFile, DocumentError, ValueError) as exc:  # the page's own load reports it
                    log.debug("cannot read %s for its title: %s", path, exc)
            self._titles[path] = title or _title_from_name(path)
        return self._titles[path]


def _is_other_file(item: DocumentRef | Failure) -> bool:
    """Whether a listed item is a file other than a page (the include globs may be wide)."""
    key = item.key
    return bool(key) and not key.endswith("/") and not key.lower().endswith(MARKDOWN_SUFFIXES)


def _title_from_name(path: str) -> str:
    """``guides/Page-Name.md`` → ``Page Name`` (GitHub wikis name files after titles this way)."""
    stem = PurePosixPath(path).stem
    return stem.replace("-", " ").replace("_", " ").strip() or path


class MarkdownWikiConnector(BaseConnector):
    """Indexes the pages of a Markdown wiki folder."""

    def __init__(self, config: MarkdownWikiConfig) -> None:
        self.config = config
        root, nav_titles = _mkdocs_layout(config.path)
        self.scanner = WikiScanner(LocalTree(root, config.follow_symlinks, config.max_file_size), config, nav_titles)

    def check(self) -> list[str]:
        root = self.scanner.tree.root
        if not root.is_dir():
            raise ConnectorError(f"{self.config.name}: folder not found: {root}")
        return []

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        self.check()
        yield from self.scanner.walk()

    def watch_paths(self) -> list[Path]:
        """The wiki folder, watched for live sync while `orgkb serve` runs."""
        return [self.scanner.tree.root]  # type: ignore[attr-defined]

    def load(self, ref: DocumentRef) -> Document:
        return self.scanner.load(ref)


def _mkdocs_layout(path: Path) -> tuple[Path, dict[str, str]]:
    """The folder to scan and MkDocs ``nav`` titles by page path.

    ``path`` may be an MkDocs project (with ``mkdocs.yml``: its ``docs_dir`` is scanned, so the
    built ``site/`` is not) or the docs folder itself; anything else is a plain wiki folder.
    """
    for config_file in (path / "mkdocs.yml", path / "mkdocs.yaml", path.parent / "mkdocs.yml", path.parent / "mkdocs.yaml"):
        if not config_file.is_file():
            continue
        settings = _load_mkdocs(config_file)
        docs = (config_file.parent / str(settings.get("docs_dir") or "docs")).resolve()
        if (config_file.parent == path and docs.is_dir()) or docs == path:
            return docs, _nav_titles(settings.get("nav"))
    return path, {}


def _load_mkdocs(config_file: Path) -> dict[str, Any]:
    """``mkdocs.yml`` as a mapping; tags such as ``!!python/name:`` (plugins) load as None."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    try:
        loaded = yaml.load(config_file.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        log.warning("ignoring %s: %s", config_file, exc)
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _nav_titles(nav: Any) -> dict[str, str]:
    """Page path → title from an MkDocs ``nav`` (``- Title: page.md`` entries, nested sections)."""
    titles: dict[str, str] = {}
    if isinstance(nav, list):
        for entry in nav:
            if isinstance(entry, dict):
                for title, target in entry.items():
                    if isinstance(target, str) and target.lower().endswith(MARKDOWN_SUFFIXES):
                        titles[posixpath.normpath(target)] = str(title)
                    else:
                        titles.update(_nav_titles(target))
    return titles


CONNECTOR = ConnectorType(type="markdown_wiki", config_model=MarkdownWikiConfig, factory=MarkdownWikiConnector, description="A folder of Markdown wiki pages (Obsidian, GitHub/GitLab wiki, MkDocs).")
