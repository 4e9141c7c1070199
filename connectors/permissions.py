"""Who may read a document at its source, as principal names the index stores and filters on.

A principal name is ``user:<name>``, ``group:<name>`` or ``*`` (everyone who may see the
source). A document's `Permissions` lists the principals allowed to read it; an empty list
means nobody but administrators (for example when the source's permissions could not be read).
It may also list principals denied it (an NTFS deny entry): a deny always wins over an allow,
whatever the order of the entries, so a caller with any denied name never sees the document.
Connectors fill `Document.permissions`; a document without them is readable by everyone who
may see its source, which is how sources without permission capture behave.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

EVERYONE = "*"


def user_principal(name: str) -> str:
    """The principal name of a user."""
    return f"user:{name}"


def group_principal(name: str) -> str:
    """The principal name of a group."""
    return f"group:{name}"


class Permissions(BaseModel):
    """The principals allowed to read one document, and how that was decided (for `orgkb access`)."""

    model_config = ConfigDict(frozen=True)

    principals: frozenset[str] = Field(default=frozenset(), description='"user:x", "group:y" or "*".')
    denied: frozenset[str] = Field(default=frozenset(), description="Principals refused, whatever else allows them.")
    rule: str = Field(default="", description='Where the permissions came from, e.g. "posix mode 0640 owner alice group hr".')

    def allows(self, names: frozenset[str]) -> bool:
        """True when a caller with these principal names may read: one is allowed, none denied."""
        return not self.principals.isdisjoint(names) and self.denied.isdisjoint(names)

    @classmethod
    def everyone(cls, rule: str = "no permissions at the source") -> Permissions:
        """Readable by everyone who may see the source."""
        return cls(principals=frozenset({EVERYONE}), rule=rule)

    @classmethod
    def nobody(cls, rule: str) -> Permissions:
        """Readable by administrators only (``rule`` says why)."""
        return cls(principals=frozenset(), rule=rule)

    @classmethod
    def of(cls, users: Iterable[str] = (), groups: Iterable[str] = (), rule: str = "") -> Permissions:
        """Readable by the named users and members of the named groups."""
        names = {user_principal(u) for u in users} | {group_principal(g) for g in groups}
        return cls(principals=frozenset(names), rule=rule)
