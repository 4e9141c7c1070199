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

import json
import re
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


def check_principal_names(names: list[str] | None, key: str = "allow") -> list[str] | None:
    """``names`` when each is ``user:NAME``, ``group:NAME`` or ``*``; `ValueError` naming the bad one
    (config validators call this, so a typo is a config error)."""
    for name in names or []:
        if name != EVERYONE and not (name.startswith(("user:", "group:")) and len(name.split(":", 1)[1]) > 0):
            raise ValueError(f'`{key}` entry {name!r}: use "user:NAME", "group:NAME" or "*"')
    return names


_GROUP_SEPARATORS = re.compile(r"[,;]")
_NOT_IN_NAMES = re.compile(r'[\[\]{}"\x00-\x1f]')


def parse_group_list(value: object) -> list[str] | None:
    """The group names a row's groups column (or a record's groups field) holds: a comma- or
    semicolon-separated string, a JSON array as text, or an array value. An empty list for
    NULL, an empty string or an empty array; None when the value cannot be read as group names
    (a number, an object, an array of non-strings, broken JSON)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                return None
        else:
            value = _GROUP_SEPARATORS.split(text)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        names = [item.strip() for item in value if item.strip()]
        # Brackets or quotes left in a name mean a format orgkb does not read ('{hr}', '"hr"'):
        # guessing could grant a group nobody meant.
        return None if any(_NOT_IN_NAMES.search(name) for name in names) else names
    return None


def row_group_permissions(value: object, where: str, fallback: Permissions | None) -> Permissions:
    """Who may read a row (or record) whose groups column ``where`` holds ``value``.

    Named groups: members of those groups. No groups (NULL, empty): ``fallback`` (the table's
    ``allow``) when there is one, else administrators only. A value that is not a list of group
    names: administrators only, whatever the fallback, since it may have meant to narrow it.
    """
    groups = parse_group_list(value)
    if groups is None:
        return Permissions.nobody(f"{where}: cannot read group names from {str(value)[:60]!r}: admins only")
    if not groups:
        if fallback is not None:
            return fallback.model_copy(update={"rule": f"{where} is empty; {fallback.rule}"})
        return Permissions.nobody(f"{where} is empty: admins only")
    return Permissions.of(groups=groups, rule=f"{where} = {', '.join(sorted(set(groups)))}")
