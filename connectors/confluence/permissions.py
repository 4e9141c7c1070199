"""Who may read a Confluence page, as Confluence decides it: the space's view permission, then
the read restrictions of the page and of every ancestor (a restriction on a parent page
restricts its children too).

Space permissions come from ``/rest/api/space?expand=permissions`` on Cloud and from
``/rest/api/space/{key}/permissions`` on Data Center (9.1 and later); both list them only to an
account that may see them (a space administrator). Restrictions come expanded with each listed
page (``restrictions.read.restrictions.user/group``) or, for an ancestor not listed, from
``/rest/api/content/{id}/restriction/byOperation/read``. Users are named by their Data Center
username, or on Cloud by their email (their account id when the email is hidden); groups by
name. Anonymous read access to the space becomes ``*``.

Confluence asks a reader to pass every restriction on the path *and* the space permission;
a set of principals can only approximate "in both", so (see `permission_rules`): a user named
in a restriction is kept when they pass the others (directly or through a group Confluence puts
them in, ``/rest/api/user/memberof``); a group named in one restriction but not another is
dropped; a group named in a restriction is taken to hold the space permission (Confluence asks
its members to hold it too, which is not checked here). Permissions that cannot be read make
the page readable by administrators only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from orgkb.connectors.http import HttpAuthError, HttpStatusError
from orgkb.connectors.permission_rules import passes, readers_of_all
from orgkb.connectors.permissions import EVERYONE, Permissions, group_principal, user_principal

# Asked with every listed page: its own read restriction, users and groups.
RESTRICTION_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
# A restriction naming more people than one response holds is read in pages of this many.
RESTRICTION_PAGE = 200
MAX_RESTRICTION_PAGES = 1000

Json = Callable[..., Any]
Results = Callable[[str, dict[str, Any]], Iterator[list[dict[str, Any]]]]


class Unreadable(Exception):
    """Some permission of a page cannot be read; the message says which."""


class PagePermissions:
    """Space permissions, restrictions and group memberships read during one sync (each once)."""

    def __init__(self, json: Json, results: Results, deployment: str) -> None:
        self._json = json
        self._results = results
        self._cloud = deployment == "cloud"
        # page id -> its own read restriction (None: unrestricted).
        self._restrictions: dict[str, frozenset[str] | None] = {}
        self._spaces: dict[str, frozenset[str] | Unreadable] = {}
        self._groups: dict[str, frozenset[str]] = {}
        # user principal -> the query parameter that names the user to /rest/api/user/memberof.
        self._user_ids: dict[str, dict[str, str]] = {}

    def remember(self, page: dict[str, Any]) -> None:
        """Keep the read restriction a listed page came with, for the pages below it (one cut
        short by the response's limit is read in full when needed)."""
        restriction = page.get("restrictions")
        if isinstance(restriction, dict) and isinstance(restriction.get("read"), dict) and not _cut(restriction["read"]):
            users, groups = _lists(restriction["read"])
            self._restrictions[str(page["id"])] = self._restriction(users, groups)

    def of(self, page: dict[str, Any], space: str) -> Permissions:
        """Who may read ``page`` (listed with ancestors, in ``space``)."""
        self.remember(page)
        try:
            readers = self._space_readers(space)
            path = [str(a["id"]) for a in page.get("ancestors") or [] if a.get("id") is not None] + [str(page["id"])]
            chain = [r for r in (self._restriction_of(page_id) for page_id in path) if r is not None]
        except Unreadable as exc:
            return Permissions.nobody(f"confluence: {exc}")
        if not chain:
            return Permissions(principals=readers, rule=f"confluence: view permission of space {space}")
        restricted = readers_of_all(chain, self.groups_of)
        # The space's view permission still applies to a user named in a restriction.
        kept = frozenset(p for p in restricted if not p.startswith("user:") or passes(p, readers, self.groups_of))
        return Permissions(
            principals=kept,
            rule=f"confluence: read restrictions of {len(chain)} page(s) from the space root to this one, within space {space}",
        )

    def space_problem(self, space: str) -> str | None:
        """Why the view permissions of ``space`` cannot be read, or None when they can."""
        try:
            self._space_readers(space)
        except Unreadable as exc:
            return str(exc)
        return None

    def groups_of(self, user: str) -> frozenset[str]:
        """The groups Confluence puts ``user`` (a user principal named in a permission) in."""
        if user not in self._groups:
            names: set[str] = set()
            query = self._user_ids.get(user)
            if query is not None:
                try:
                    for results in self._results("/rest/api/user/memberof", {**query, "limit": 200}):
                        names.update(group_principal(str(g["name"])) for g in results if g.get("name"))
                except (HttpAuthError, HttpStatusError):
                    names = set()  # no memberships known: the user passes only where named
            self._groups[user] = frozenset(names)
        return self._groups[user]

    # --- reading --------------------------------------------------------------------------

    def _restriction_of(self, page_id: str) -> frozenset[str] | None:
        if page_id not in self._restrictions:
            users: list[dict[str, Any]] = []
            groups: list[dict[str, Any]] = []
            start = 0
            for _ in range(MAX_RESTRICTION_PAGES):
                try:
                    data = self._json(
                        "GET", f"/rest/api/content/{page_id}/restriction/byOperation/read",
                        params={"expand": "restrictions.user,restrictions.group", "start": start, "limit": RESTRICTION_PAGE},
                    )
                except (HttpAuthError, HttpStatusError) as exc:
                    raise Unreadable(f"the read restrictions of page {page_id} cannot be read (HTTP {exc.status})") from exc
                more_users, more_groups = _lists(data)
                users += more_users
                groups += more_groups
                if not _cut(data):
                    break
                start += max(len(more_users), len(more_groups))
            self._restrictions[page_id] = self._restriction(users, groups)
        return self._restrictions[page_id]

    def _restriction(self, users: list[dict[str, Any]], groups: list[dict[str, Any]]) -> frozenset[str] | None:
        """The principals of one read restriction; None when the page has none."""
        if not users and not groups:
            return None
        # A listed user without a usable name stays out: the restriction still holds for the rest.
        names = {name for name in map(self._user, users) if name}
        names.update(group_principal(str(g["name"])) for g in groups if g.get("name"))
        return frozenset(names)

    def _user(self, user: dict[str, Any]) -> str | None:
        """The principal of a user as Confluence describes one, remembering how to ask for their groups."""
        if self._cloud:
            name, query = user.get("email") or user.get("accountId"), {"accountId": user.get("accountId")}
        else:
            name, query = user.get("username"), {"username": user.get("username")}
        if not name:
            return None
        principal = user_principal(str(name))
        if all(query.values()):
            self._user_ids[principal] = {k: str(v) for k, v in query.items()}
        return principal

    def _space_readers(self, space: str) -> frozenset[str]:
        if space not in self._spaces:
            try:
                readers = self._cloud_space(space) if self._cloud else self._datacenter_space(space)
                if not readers:
                    raise Unreadable(
                        f"the view permissions of space {space} are not visible to this account "
                        "(Confluence shows them to space administrators)"
                    )
                self._spaces[space] = readers
            except Unreadable as exc:
                self._spaces[space] = exc
        found = self._spaces[space]
        if isinstance(found, Unreadable):
            raise found
        return found

    def _cloud_space(self, space: str) -> frozenset[str]:
        data = self._json("GET", "/rest/api/space", params={"spaceKey": space, "expand": "permissions"})
        spaces = [s for s in data.get("results") or [] if s.get("key") == space]
        names: set[str] = set()
        for permission in (spaces[0].get("permissions") or []) if spaces else []:
            operation = permission.get("operation") or {}
            if (operation.get("operation"), operation.get("targetType")) != ("read", "space"):
                continue
            if permission.get("anonymousAccess"):
                names.add(EVERYONE)
            subjects = permission.get("subjects") or {}
            names.update(n for n in map(self._user, (subjects.get("user") or {}).get("results") or []) if n)
            names.update(group_principal(str(g["name"])) for g in (subjects.get("group") or {}).get("results") or [] if g.get("name"))
        return frozenset(names)

    def _datacenter_space(self, space: str) -> frozenset[str]:
        try:
            permissions = self._json("GET", f"/rest/api/space/{space}/permissions")
        except (HttpAuthError, HttpStatusError) as exc:
            if exc.status == 404:
                raise Unreadable(
                    f"this Confluence has no REST API for the permissions of space {space} (Data Center 9.1 "
                    "added it): set `allow` for this source"
                ) from exc
            raise Unreadable(f"the view permissions of space {space} cannot be read (HTTP {exc.status})") from exc
        names: set[str] = set()
        for permission in permissions if isinstance(permissions, list) else []:
            operation = permission.get("operation") or {}
            if (operation.get("operationKey"), operation.get("targetType")) != ("read", "space"):
                continue
            subject = permission.get("subject") or {}
            if subject.get("type") == "anonymous":
                names.add(EVERYONE)
            elif subject.get("type") == "group" and subject.get("name"):
                names.add(group_principal(str(subject["name"])))
            elif subject.get("type") == "user" and subject.get("userKey"):
                # Data Center names users here by key only; the username comes from the user resource.
                try:
                    user = self._json("GET", "/rest/api/user", params={"key": subject["userKey"]})
                except (HttpAuthError, HttpStatusError):
                    continue  # an unknown user grants nobody
                name = self._user(user)
                if name:
                    names.add(name)
        return frozenset(names)


def _lists(restriction: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The users and groups one response of a read restriction names."""
    lists = (restriction or {}).get("restrictions") or {}
    return ((lists.get("user") or {}).get("results") or []), ((lists.get("group") or {}).get("results") or [])


def _cut(restriction: Any) -> bool:
    """True when a list of the restriction filled the response's limit: more may follow."""
    lists = (restriction or {}).get("restrictions") or {}
    for part in (lists.get("user") or {}, lists.get("group") or {}):
        results, limit = part.get("results") or [], part.get("limit")
        if isinstance(limit, int) and limit > 0 and len(results) >= limit:
            return True
    return False
