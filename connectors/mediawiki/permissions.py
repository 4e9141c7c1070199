"""Who may read a MediaWiki's pages: the groups that hold the ``read`` right.

MediaWiki grants reading wiki-wide (``$wgGroupPermissions[group]['read']``), which the API shows
in ``meta=siteinfo&siprop=usergroups``: when ``*`` (anonymous visitors) may read, everyone may
(``*``); otherwise the members of the groups that may (``user`` is every registered account).
``$wgRevokePermissions`` takes the right back from members of other groups and siteinfo does
not show it; where any member of a reading group lacks the right (``list=allusers`` with each
account's effective rights tells), readers are listed by account name instead of by group.

Not mirrored: per-namespace or per-page read limits of extensions (Lockdown and the like),
which the API does not expose, and ``$wgWhitelistRead`` pages (readable by anyone, mirrored as
readable by the reading groups only). Set the source's ``allow`` where those matter.
"""

from __future__ import annotations

from typing import Any

from orgkb.connectors.mediawiki.api import ApiError, MediaWikiApi
from orgkb.connectors.permissions import EVERYONE, Permissions, group_principal

READ_RIGHT = "read"


def wiki_readers(api: MediaWikiApi) -> Permissions:
    """Who may read every page of the wiki behind ``api``."""
    try:
        body = api.call({"action": "query", "meta": "siteinfo", "siprop": "usergroups"})
        groups = body.get("query", {}).get("usergroups", [])
        reading = sorted(str(g["name"]) for g in groups if READ_RIGHT in (g.get("rights") or []))
        if EVERYONE in reading:
            return Permissions.everyone("mediawiki: anonymous visitors hold the read right")
        if not reading:
            return Permissions.nobody("mediawiki: no group holds the read right")
        readers, revoked = _accounts(api, set(reading))
    except ApiError as exc:
        return Permissions.nobody(f"mediawiki: the read rights cannot be read: {exc}")
    if revoked:
        return Permissions.of(
            users=readers,
            rule=f"mediawiki: read right of {', '.join(reading)} revoked from {', '.join(sorted(revoked)[:5])}"
            f"{' and others' if len(revoked) > 5 else ''}: readers listed by account",
        )
    return Permissions(
        principals=frozenset(group_principal(g) for g in reading), rule=f"mediawiki: groups holding the read right: {', '.join(reading)}"
    )


def _accounts(api: MediaWikiApi, reading: set[str]) -> tuple[list[str], list[str]]:
    """Accounts with the read right, and members of reading groups from whom it was revoked."""
    readers: list[str] = []
    revoked: list[str] = []
    for batch in api.query({"list": "allusers", "auprop": "groups|rights", "aulimit": "max"}):
        for account in batch.get("allusers", []):
            name = str(account["name"])
            if READ_RIGHT in _names(account.get("rights")):
                readers.append(name)
            elif reading & set(_names(account.get("groups"))):
                revoked.append(name)
    return readers, revoked


def _names(value: Any) -> list[str]:
    return [str(v) for v in value or []]
