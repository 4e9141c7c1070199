"""DokuWiki's access control list as the principals who may read each page.

The rules are DokuWiki's ``conf/acl.auth.php``: lines of scope (a page id, ``ns:*`` or ``*``),
name (a user, ``@group`` or ``@ALL``) and level (0 none, 1 read, 2 edit and up). DokuWiki decides
a person at the most specific scope where any of their names has a rule, taking the highest
level there (``auth_aclcheck``); level 1 or more reads. `most_specific_readers` translates that
into principals: ``@ALL`` is ``*``, ``@g`` is ``group:g``, any other name ``user:name``.

Not mirrored: lines with ``%USER%`` or ``%GROUP%`` (personal namespaces; DokuWiki fills them in
per visitor, so they name nobody in particular), the superuser and manager settings (DokuWiki's
superusers read everything; orgkb's administrators do too), and grants broader than a narrower
denial (see `most_specific_readers`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict

from orgkb.connectors.permission_rules import most_specific_readers
from orgkb.connectors.permissions import EVERYONE, Permissions, group_principal, user_principal

_READ = 1
_PLACEHOLDER = re.compile(r"%(USER|GROUP)%")


class AclTable(BaseModel):
    """A wiki's ACL rules: scope to name (as DokuWiki writes it, decoded) to level."""

    model_config = ConfigDict(frozen=True)

    rules: dict[str, dict[str, int]]

    @classmethod
    def parse(cls, text: str) -> AclTable:
        """The rules of an ``acl.auth.php`` file (comments, blank and malformed lines skipped)."""
        rules: dict[str, dict[str, int]] = {}
        for line in text.splitlines():
            fields = line.split("#", 1)[0].split()
            if len(fields) < 3 or _PLACEHOLDER.search(line) or not fields[2].lstrip("-").isdigit():
                continue
            rules.setdefault(fields[0], {})[unquote(fields[1])] = int(fields[2])
        return cls(rules=rules)

    @classmethod
    def from_api(cls, value: Any) -> AclTable:
        """The rules ``plugin.acl.listAcls`` returns (an empty table comes back as a list)."""
        rules: dict[str, dict[str, int]] = {}
        for scope, entries in (value.items() if isinstance(value, Mapping) else []):
            if _PLACEHOLDER.search(str(scope)):
                continue
            for name, level in (entries.items() if isinstance(entries, Mapping) else []):
                if not _PLACEHOLDER.search(str(name)) and str(level).lstrip("-").isdigit():
                    rules.setdefault(str(scope), {})[str(name)] = int(level)
        return cls(rules=rules)

    def permissions(self, page_id: str) -> Permissions:
        """Who may read the page ``page_id``."""
        scopes = [(scope, {_principal(n): level >= _READ for n, level in self.rules.get(scope, {}).items()}) for scope in scopes_of(page_id)]
        return most_specific_readers(scopes, "dokuwiki acl")


def scopes_of(page_id: str) -> list[str]:
    """The ACL scopes that may decide a page, most specific first: ``a:b:c``, ``a:b:*``, ``a:*``, ``*``."""
    parts = page_id.split(":")
    return [page_id] + [":".join(parts[:depth] + ["*"]) for depth in range(len(parts) - 1, 0, -1)] + ["*"]


def _principal(name: str) -> str:
    if name == "@ALL":
        return EVERYONE
    if name.startswith("@"):
        return group_principal(name[1:])
    return user_principal(name)
