"""A MediaWiki page as a `Document`, shared by the live-wiki and the XML-dump connectors.

Both key a page by its full title (``Help:Contents``), so an index built from a dump and one
built from the live wiki agree, and a moved page is re-cited under its new title.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from pydantic import Field

from orgkb.connectors.base import ConnectorError, Document, MetadataValue, Section

NamespaceList = list[int | str]
NAMESPACES_FIELD = Field(
    default_factory=lambda: [0],
    min_length=1,
    description="Namespaces to index, by number (0 = articles) or name ('Help'); default [0].",
)


class SiteNamespaces:
    """A wiki's namespaces: number → names (canonical, local and aliases, lower-cased)."""

    def __init__(self, names: dict[int, set[str]]) -> None:
        self.names = names

    def resolve(self, configured: NamespaceList, source: str) -> list[int]:
        """The numbers of the configured namespaces; an unknown one is a clear error."""
        by_name = {name: number for number, names in self.names.items() for name in names}
        resolved: list[int] = []
        for item in configured:
            if isinstance(item, int):
                number: int | None = item if item in self.names or not self.names else None
            else:
                key = item.strip().replace("_", " ").lower()
                number = 0 if key in ("", "main", "(main)") else by_name.get(key)
            if number is None:
                known = ", ".join(f"{n}={min(v) if v else 'main'}" for n, v in sorted(self.names.items()) if n >= 0)
                raise ConnectorError(f"{source}: the wiki has no namespace {item!r} (it has {known})")
            resolved.append(number)
        return list(dict.fromkeys(resolved))

    def named(self, number: int) -> set[str]:
        """Every name of namespace ``number`` (empty for an unknown one)."""
        return self.names.get(number, set())


def page_url(article_path: str, title: str) -> str:
    """The address of a page, from the wiki's article path (``https://w.example/wiki/$1``).

    Encoded the way MediaWiki encodes titles in links: spaces as underscores, a few
    punctuation characters kept.
    """
    encoded = quote(title.replace(" ", "_"), safe=";@$!*(),/~:")
    if "$1" in article_path:
        return article_path.replace("$1", encoded)
    return article_path + encoded


def page_document(
    *,
    source: str,
    title: str,
    url: str,
    sections: list[Section],
    revision: int | str,
    categories: list[str],
    editor: str | None,
    modified: datetime | None,
    namespace: str,
) -> Document:
    """A wiki page as a document: citations at the page URL, ``version`` its revision id."""
    metadata: dict[str, MetadataValue] = {"namespace": namespace or "Main"}
    if categories:
        metadata["categories"] = ", ".join(categories)
    if editor:
        metadata["last_editor"] = editor
    return Document(
        source=source,
        key=title,
        title=title,
        uri=url,
        sections=sections or [Section(text=title)],
        metadata=metadata,
        modified=modified,
        mime_type="text/x-wiki",
        version=str(revision),
    )


def parse_timestamp(value: str | None) -> datetime | None:
    """A MediaWiki ISO timestamp (``2024-05-01T12:00:00Z``) as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
