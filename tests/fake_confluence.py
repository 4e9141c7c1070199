"""A local HTTP server that answers like Confluence's REST API, for tests (no Confluence runs here).

It is a documented-shape server, not Atlassian's: responses follow the field names and
nesting of Atlassian's documentation and published examples for ``/rest/api/content``,
``/rest/api/content/{id}``, ``/rest/api/content/search`` (CQL), ``/rest/api/space`` and
``/rest/api/user/current`` — ``results``/``start``/``limit``/``size``, ``_links.base``,
``_links.context``, ``_links.next``, ``_links.webui``, ``_expandable``, ``body.storage``,
``version``, ``history.lastUpdated``, ``ancestors``, ``metadata.labels`` — with the
behaviours a client must cope with: result pages capped lower when bodies are expanded,
``next`` links (a ``cursor`` for Cloud search), CQL dates read in the server's timezone,
Data Center treating a wrong token as an anonymous visitor, 401 bodies, trashed pages.
Tests edit, trash and purge pages, make requests fail (HTTP 503) or the server go down.

Permissions, in the shapes each deployment documents: page read restrictions (expanded as
``restrictions.read.restrictions.user/group`` and at
``/rest/api/content/{id}/restriction/byOperation/read``; changing them adds no page version,
as in Confluence), space permissions (Cloud: ``/rest/api/space?expand=permissions`` with
``subjects``, ``operation.operation``/``targetType`` and ``anonymousAccess``; Data Center 9.1+:
``/rest/api/space/{key}/permissions`` with one ``subject`` each, users by ``userKey``),
``/rest/api/user?key=`` and ``/rest/api/user/memberof``. Cloud shows users' emails only where
their profile does (`add_user(..., email_visible=False)` hides it).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

_IDS = itertools.count(98_304)
ACCOUNT_PREFIX = "5b10ac8d82e05b22cc7d4ef5-"


def user_key(handle: str) -> str:
    """A Data Center user key: stable, and not the username."""
    return f"ff8080815{zlib.crc32(handle.encode()) % 10**8:08d}"
_CLAUSE = re.compile(
    r'^\s*(space|type|lastmodified|id)\s*(=|>=|>|in)\s*(\((?:[^()]*)\)|"[^"]*"|\S+)\s*$', re.IGNORECASE
)


@dataclass
class FakePage:
    """A page as the server stores it."""

    id: str
    space: str
    title: str
    body: str
    author: str
    when: datetime
    labels: list[str] = field(default_factory=list)
    parent: str | None = None
    version: int = 1
    status: str = "current"
    read_users: list[str] = field(default_factory=list)
    read_groups: list[str] = field(default_factory=list)
    restrictions_forbidden: bool = False


@dataclass
class FakeUser:
    """A Confluence user: handle (Data Center username), groups, and whether Cloud shows the email."""

    handle: str
    display_name: str
    groups: set[str]
    email_visible: bool = True

    @property
    def email(self) -> str:
        return f"{self.handle}@brightwater.example"


@dataclass
class SpaceReaders:
    """Who holds a space's view permission."""

    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=lambda: ["confluence-users"])
    anonymous: bool = False


class FakeConfluence:
    """The server's state and controls; `start()` serves it on 127.0.0.1 on a free port."""

    def __init__(
        self,
        deployment: str = "cloud",
        *,
        user: str = "ana.ferreira@brightwater.example",
        token: str = "atl-token-1234",
        display_name: str = "Ana Ferreira",
        cql_timezone: timezone = timezone(timedelta(hours=-8)),
        body_limit: int = 25,
        anonymous_access: bool = True,
    ) -> None:
        self.deployment = deployment
        self.context = "/wiki" if deployment == "cloud" else "/confluence"
        self.user, self.token, self.display_name = user, token, display_name
        self.cql_timezone = cql_timezone
        self.body_limit = body_limit
        self.anonymous_access = anonymous_access
        self.spaces: dict[str, str] = {}
        self.hidden_spaces: set[str] = set()
        self.users: dict[str, FakeUser] = {}
        self.space_readers: dict[str, SpaceReaders] = {}
        # Spaces whose permissions this account may not see (it is no space administrator there).
        self.space_permissions_hidden: set[str] = set()
        # Data Center before 9.1 has no REST resource for space permissions (HTTP 404).
        self.space_permissions_api = True
        self.restriction_limit = 200
        self.pages: dict[str, FakePage] = {}
        self.requests: list[str] = []
        self.transient_failures = 0
        self.down = False
        self.down_when: Any = None  # a predicate on the request path that takes the server down
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeConfluence:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def origin(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base(self) -> str:
        """What Confluence calls ``_links.base``: the site URL with its context path."""
        return self.origin + self.context

    # --- content that tests change --------------------------------------------------------

    def add_space(self, key: str, name: str) -> None:
        self.spaces[key] = name
        self.space_readers.setdefault(key, SpaceReaders())

    def add_user(self, handle: str, groups: list[str], *, email_visible: bool = True) -> None:
        display = " ".join(part.title() for part in handle.split("."))
        self.users[handle] = FakeUser(handle, display, {"confluence-users", *groups}, email_visible)

    def set_space_readers(self, key: str, *, users: list[str] = (), groups: list[str] = (), anonymous: bool = False) -> None:  # type: ignore[assignment]
        with self.lock:
            self.space_readers[key] = SpaceReaders(list(users), list(groups), anonymous)

    def restrict(self, page_id: str, *, users: list[str] = (), groups: list[str] = ()) -> None:  # type: ignore[assignment]
        """Set a page's read restriction (empty: none); like Confluence, the page version stays."""
        with self.lock:
            page = self.pages[page_id]
            page.read_users, page.read_groups = list(users), list(groups)

    def add_page(self, space: str, title: str, body: str, *, labels: list[str] | None = None,
                 parent: str | None = None, author: str = "Rui Matos") -> str:
        page_id = str(next(_IDS))
        with self.lock:
            self.pages[page_id] = FakePage(page_id, space, title, body, author, datetime.now(UTC), list(labels or []), parent)
        return page_id

    def edit_page(self, page_id: str, body: str | None = None, *, title: str | None = None, author: str = "Sofia Lindqvist") -> None:
        with self.lock:
            page = self.pages[page_id]
            page.body = body if body is not None else page.body
            page.title = title if title is not None else page.title
            page.version += 1
            page.author = author
            page.when = datetime.now(UTC)

    def trash_page(self, page_id: str) -> None:
        with self.lock:
            self.pages[page_id].status = "trashed"

    def purge_page(self, page_id: str) -> None:
        with self.lock:
            del self.pages[page_id]

    def go_down_at(self, predicate: Any) -> None:
        """From the first request whose path matches ``predicate`` on, drop every connection."""
        self.down_when = predicate

    def come_back(self) -> None:
        self.down, self.down_when = False, None

    # --- JSON shapes ----------------------------------------------------------------------

    def user_json(self, name: str, email: str = "") -> dict[str, Any]:
        handle = name.lower().replace(" ", ".")
        if self.deployment == "cloud":
            return {
                "type": "known", "accountId": f"{ACCOUNT_PREFIX}{handle}", "accountType": "atlassian",
                "email": email, "publicName": name, "displayName": name, "isExternalCollaborator": False,
                "profilePicture": {"path": f"{self.context}/aa-avatar/{handle}", "width": 48, "height": 48, "isDefault": False},
                "_expandable": {"operations": "", "personalSpace": ""},
                "_links": {"self": f"{self.base}/rest/api/user?accountId={handle}"},
            }
        return {
            "type": "known", "username": handle, "userKey": user_key(handle), "displayName": name,
            "profilePicture": {"path": f"{self.context}/images/icons/profilepics/default.svg", "width": 48, "height": 48, "isDefault": True},
            "_links": {"self": f"{self.base}/rest/api/user?key={handle}"}, "_expandable": {"status": ""},
        }

    def space_json(self, key: str) -> dict[str, Any]:
        return {
            "id": 32_000 + sum(map(ord, key)), "key": key, "name": self.spaces[key], "type": "global", "status": "current",
            "_expandable": {"metadata": "", "icon": "", "description": "", "homepage": "/rest/api/content/65537"},
            "_links": {"webui": f"/spaces/{key}" if self.deployment == "cloud" else f"/display/{key}", "self": f"{self.base}/rest/api/space/{key}"},
        }

    def known_user_json(self, handle: str) -> dict[str, Any]:
        user = self.users[handle]
        email = user.email if self.deployment == "cloud" and user.email_visible else ""
        return self.user_json(user.display_name, email)

    def group_json(self, name: str) -> dict[str, Any]:
        group: dict[str, Any] = {"type": "group", "name": name,
                                 "_links": {"self": f"{self.base}/rest/api/group/{quote_plus(name)}"}}
        if self.deployment == "cloud":
            group["id"] = f"c3e5{zlib.crc32(name.encode()):08x}-0d4e-4a1b-9f63-{zlib.crc32(name[::-1].encode()):012x}"
        return group

    def restriction_json(self, page: FakePage, start: int = 0, limit: int = 200) -> dict[str, Any]:
        """A page's read restriction (``/restriction/byOperation/read``, or expanded on the page):
        at most ``restriction_limit`` users and as many groups from ``start``."""
        limit = min(limit, self.restriction_limit)
        def listing(items: list[dict[str, Any]]) -> dict[str, Any]:
            part = items[start:start + limit]
            return {"results": part, "start": start, "limit": limit, "size": len(part)}
        return {
            "operation": "read",
            "restrictions": {"user": listing([self.known_user_json(u) for u in page.read_users]),
                             "group": listing([self.group_json(g) for g in page.read_groups])},
            "_expandable": {"content": f"/rest/api/content/{page.id}"},
            "_links": {"self": f"{self.base}/rest/api/content/{page.id}/restriction/byOperation/read"},
        }

    def cloud_space_permissions(self, key: str) -> list[dict[str, Any]]:
        readers = self.space_readers[key]
        read = {"operation": "read", "targetType": "space"}
        items: list[dict[str, Any]] = []
        for group in readers.groups:
            items.append({"subjects": {"group": {"results": [self.group_json(group)], "size": 1}}, "operation": read})
            items.append({"subjects": {"group": {"results": [self.group_json(group)], "size": 1}},
                          "operation": {"operation": "create", "targetType": "page"}})
        for user in readers.users:
            items.append({"subjects": {"user": {"results": [self.known_user_json(user)], "size": 1}}, "operation": read})
        if readers.anonymous:
            items.append({"operation": read})
        for number, item in enumerate(items):
            item.update({"id": 7_700_000 + number, "anonymousAccess": "subjects" not in item, "unlicensedAccess": False})
        return items

    def datacenter_space_permissions(self, key: str) -> list[dict[str, Any]]:
        readers = self.space_readers[key]
        space_id = 32_000 + sum(map(ord, key))
        subjects: list[dict[str, Any]] = [{"type": "group", "name": g} for g in readers.groups]
        subjects += [{"type": "user", "userKey": user_key(u), "displayName": self.users[u].display_name} for u in readers.users]
        if readers.anonymous:
            subjects.append({"type": "anonymous", "displayName": "Anonymous"})
        items = [{"operation": {"targetType": "space", "operationKey": "read"}, "subject": s, "spaceKey": key, "spaceId": space_id}
                 for s in subjects]
        items += [{"operation": {"targetType": "page", "operationKey": "create"}, "subject": {"type": "group", "name": g},
                   "spaceKey": key, "spaceId": space_id} for g in readers.groups]
        return items

    def webui(self, page: FakePage) -> str:
        if self.deployment == "cloud":
            return f"/spaces/{page.space}/pages/{page.id}/{quote_plus(page.title)}"
        return f"/display/{page.space}/{quote_plus(page.title)}"

    def when_json(self, when: datetime) -> str:
        if self.deployment == "cloud":
            return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        return when.astimezone(self.cql_timezone).isoformat(timespec="milliseconds")

    def version_json(self, page: FakePage) -> dict[str, Any]:
        return {
            "by": self.user_json(page.author), "when": self.when_json(page.when), "friendlyWhen": "a moment ago",
            "message": "", "number": page.version, "minorEdit": False,
            "_expandable": {"collaborators": "", "content": f"/rest/api/content/{page.id}"},
            "_links": {"self": f"{self.base}/rest/api/content/{page.id}/version/{page.version}"},
        }

    def content_json(self, page: FakePage, expand: set[str]) -> dict[str, Any]:
        links = {"webui": self.webui(page), "edit": f"/pages/resumedraft.action?draftId={page.id}",
                 "tinyui": f"/x/{base64.urlsafe_b64encode(page.id.encode()).decode().rstrip('=')}",
                 "self": f"{self.base}/rest/api/content/{page.id}"}
        doc: dict[str, Any] = {"id": page.id, "type": "page", "status": page.status, "title": page.title}
        expandable = {"childTypes": "", "container": f"/rest/api/space/{page.space}", "metadata": "", "operations": "",
                      "children": f"/rest/api/content/{page.id}/child", "restrictions": f"/rest/api/content/{page.id}/restriction/byOperation",
                      "history": f"/rest/api/content/{page.id}/history", "ancestors": "", "body": "", "version": "",
                      "descendants": f"/rest/api/content/{page.id}/descendant", "space": f"/rest/api/space/{page.space}"}
        if "space" in expand:
            doc["space"] = self.space_json(page.space)
        if "version" in expand:
            doc["version"] = self.version_json(page)
        if any(e.startswith("history") for e in expand):
            history: dict[str, Any] = {"latest": True, "createdBy": self.user_json(page.author),
                                       "createdDate": self.when_json(page.when), "_links": {"self": f"{self.base}/rest/api/content/{page.id}/history"}}
            if "history.lastUpdated" in expand:
                history["lastUpdated"] = self.version_json(page)
            doc["history"] = history
        if "ancestors" in expand:
            doc["ancestors"] = [self.content_json(a, set()) for a in self._ancestors(page)]
        if "body.storage" in expand:
            doc["body"] = {"storage": {"value": page.body, "representation": "storage", "embeddedContent": [],
                                       "_expandable": {"content": f"/rest/api/content/{page.id}"}},
                           "_expandable": {"editor": "", "view": "", "export_view": "", "styled_view": "", "anonymous_export_view": ""}}
        if any(e.startswith("restrictions.read") for e in expand) and not page.restrictions_forbidden:
            doc["restrictions"] = {"read": self.restriction_json(page), "_expandable": {"update": ""},
                                   "_links": {"self": f"{self.base}/rest/api/content/{page.id}/restriction/byOperation"}}
        if "metadata.labels" in expand:
            doc["metadata"] = {"labels": {"results": [{"prefix": "global", "name": label, "id": str(1000 + i), "label": label}
                                                      for i, label in enumerate(page.labels)],
                                          "start": 0, "limit": 200, "size": len(page.labels),
                                          "_links": {"self": f"{self.base}/rest/api/content/{page.id}/label"}},
                               "_expandable": {"currentuser": "", "properties": "", "frontend": "", "editorHtml": ""}}
        doc["extensions"] = {"position": "none"}
        doc["_expandable"] = {k: v for k, v in expandable.items() if k not in {e.split(".")[0] for e in expand}}
        doc["_links"] = links
        return doc

    def _ancestors(self, page: FakePage) -> list[FakePage]:
        chain: list[FakePage] = []
        parent = page.parent
        while parent is not None and parent in self.pages and len(chain) < 50:
            chain.insert(0, self.pages[parent])
            parent = self.pages[parent].parent
        return chain

    # --- queries ------------------------------------------------------------------------

    def visible(self, page: FakePage, anonymous: bool) -> bool:
        return not anonymous and page.space not in self.hidden_spaces and page.space in self.spaces

    def cql_filter(self, cql: str) -> Any:
        """A predicate for the CQL subset a sync uses: space, type, lastmodified, id joined by AND."""
        tests = []
        for clause in re.split(r"\s+and\s+", cql.strip(), flags=re.IGNORECASE):
            match = _CLAUSE.match(clause)
            if not match:
                raise ValueError(f"Could not parse cql : {cql}")
            name, op, raw = match.group(1).lower(), match.group(2).lower(), match.group(3)
            values = [v.strip().strip('"') for v in raw.strip("()").split(",")] if op == "in" else [raw.strip('"')]
            if name == "space":
                tests.append(lambda p, v=values: p.space in v)
            elif name == "type":
                tests.append(lambda p, v=values: "page" in v)
            elif name == "id":
                tests.append(lambda p, v=values: p.id in v)
            else:
                # CQL dates carry no zone: Confluence reads them in its own timezone.
                since = datetime.strptime(values[0].replace("/", "-"), "%Y-%m-%d %H:%M").replace(tzinfo=self.cql_timezone)
                tests.append(lambda p, s=since, o=op: p.when >= s if o == ">=" else p.when > s)
        return lambda page: all(test(page) for test in tests)


def _handler_for(server: FakeConfluence) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            with server.lock:
                server.requests.append(self.path)
                if server.down_when is not None and server.down_when(self.path):
                    server.down = True
                if server.down:
                    self.close_connection = True
                    return  # the connection closes with no response: the server is down
                if server.transient_failures > 0:
                    server.transient_failures -= 1
                    return self._send(503, {"statusCode": 503, "message": "Service Unavailable"})
            parts = urlsplit(self.path)
            if not parts.path.startswith(server.context + "/rest/api/"):
                return self._send(404, {"statusCode": 404, "message": "null for uri: " + self.path})
            anonymous = self._anonymous()
            if anonymous is None:
                return
            route = parts.path[len(server.context) + len("/rest/api"):]
            query = {k: v for k, v in parse_qs(parts.query).items()}
            with server.lock:
                try:
                    status, body = self._route(route, query, anonymous)
                except ValueError as exc:
                    status, body = 400, {"statusCode": 400, "message": str(exc)}
            self._send(status, body)

        def _anonymous(self) -> bool | None:
            """False for the configured user, True for an anonymous visitor, None once a 401 is sent."""
            header = self.headers.get("Authorization", "")
            if server.deployment == "cloud":
                expected = "Basic " + base64.b64encode(f"{server.user}:{server.token}".encode()).decode()
                if header == expected:
                    return False
                self._send(401, {"statusCode": 401, "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                                 "message": "Current user not permitted to use Confluence"}, {"WWW-Authenticate": 'Basic realm="Confluence"'})
                return None
            if header == f"Bearer {server.token}":
                return False
            if server.anonymous_access:
                return True  # Data Center serves a rejected token as an anonymous request (HTTP 200)
            self._send(401, {"statusCode": 401, "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                             "message": "This request requires authentication"}, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
            return None

        def _route(self, route: str, query: dict[str, list[str]], anonymous: bool) -> tuple[int, Any]:
            expand = {e for value in query.get("expand", []) for e in value.split(",") if e}
            if route == "/user/current":
                if anonymous:
                    return 200, {"type": "anonymous", "displayName": "Anonymous", "_links": {"self": f"{server.base}/rest/api/user/anonymous"}}
                return 200, {**server.user_json(server.display_name), "email": server.user if server.deployment == "cloud" else ""}
            if route == "/space":
                keys = query.get("spaceKey") or sorted(server.spaces)
                found = [server.space_json(k) for k in keys if k in server.spaces and k not in server.hidden_spaces and not anonymous]
                if "permissions" in expand and server.deployment == "cloud":
                    for space in found:
                        if space["key"] not in server.space_permissions_hidden:
                            space["permissions"] = server.cloud_space_permissions(space["key"])
                return 200, self._collection(found, query, "/rest/api/space", 25)
            match = re.fullmatch(r"/space/([^/]+)/permissions", route)
            if match and server.deployment == "datacenter" and server.space_permissions_api:
                key = match.group(1)
                if key not in server.spaces or anonymous:
                    return 404, {"statusCode": 404, "message": f"No space with key : {key}"}
                if key in server.space_permissions_hidden:
                    return 403, {"statusCode": 403, "message": "User is not permitted to view space permissions"}
                return 200, server.datacenter_space_permissions(key)
            if route == "/user" and server.deployment == "datacenter":
                key = (query.get("key") or [""])[0]
                handle = next((h for h in server.users if user_key(h) == key), None)
                if handle is None:
                    return 404, {"statusCode": 404, "message": f"No user found with key: {key}"}
                return 200, server.known_user_json(handle)
            if route == "/user/memberof":
                if server.deployment == "cloud":
                    handle = (query.get("accountId") or [""])[0].removeprefix(ACCOUNT_PREFIX)
                else:
                    handle = (query.get("username") or [""])[0]
                if handle not in server.users:
                    return 404, {"statusCode": 404, "message": "No user found"}
                groups = [server.group_json(g) for g in sorted(server.users[handle].groups)]
                return 200, self._collection(groups, query, "/rest/api/user/memberof", 200)
            match = re.fullmatch(r"/content/(\d+)/restriction/byOperation/read", route)
            if match:
                page = server.pages.get(match.group(1))
                if page is None or not server.visible(page, anonymous):
                    return 404, {"statusCode": 404, "message": f"No content found with id: ContentId{{id={match.group(1)}}}"}
                if page.restrictions_forbidden:
                    return 403, {"statusCode": 403, "message": "Not permitted to view restrictions of this content"}
                return 200, server.restriction_json(page, int((query.get("start") or ["0"])[0]), int((query.get("limit") or ["200"])[0]))
            if route.startswith("/content/") and route[len("/content/"):].isdigit():
                page = server.pages.get(route[len("/content/"):])
                if page is None or page.status != "current" or not server.visible(page, anonymous):
                    return 404, {"statusCode": 404, "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                                 "message": "No content found with id: ContentId{id=%s}" % route[len("/content/"):]}
                return 200, {**server.content_json(page, expand),
                             "_links": {**server.content_json(page, expand)["_links"], "base": server.base, "context": server.context}}
            limit_cap = server.body_limit if any(e.startswith("body") for e in expand) else 200
            if route == "/content":
                status = (query.get("status") or ["current"])[0]
                space = (query.get("spaceKey") or [None])[0]
                pages = [p for p in server.pages.values() if server.visible(p, anonymous)
                         and (space is None or p.space == space) and (status == "any" or p.status == status)]
                return 200, self._collection([server.content_json(p, expand) for p in pages], query, "/rest/api/content", limit_cap)
            if route == "/content/search":
                predicate = server.cql_filter((query.get("cql") or [""])[0])
                pages = [p for p in server.pages.values() if p.status == "current" and server.visible(p, anonymous) and predicate(p)]
                return 200, self._collection([server.content_json(p, expand) for p in pages], query, "/rest/api/content/search",
                                             limit_cap, cursor=server.deployment == "cloud")
            return 404, {"statusCode": 404, "message": f"null for uri: {self.path}"}

        def _collection(self, items: list[Any], query: dict[str, list[str]], path: str, cap: int, cursor: bool = False) -> dict[str, Any]:
            """A page of a paginated collection, with the ``next`` link Confluence adds when more remain."""
            limit = min(int((query.get("limit") or ["25"])[0]), cap)
            if cursor and "cursor" in query:
                start = int(base64.b64decode(query["cursor"][0]).decode())
            else:
                start = int((query.get("start") or ["0"])[0])
            chunk = items[start:start + limit]
            links: dict[str, str] = {"base": server.base, "context": server.context,
                                     "self": f"{server.base}{path}?{urlencode(query, doseq=True)}"}
            if start + limit < len(items):
                rest = {k: v for k, v in query.items() if k not in ("start", "cursor")}
                rest["limit"] = [str(limit)]
                if cursor:
                    rest["cursor"] = [base64.b64encode(str(start + limit).encode()).decode()]
                    rest["next"] = ["true"]
                else:
                    rest["start"] = [str(start + limit)]
                links["next"] = f"{path}?{urlencode(rest, doseq=True)}"
            return {"results": chunk, "start": start, "limit": limit, "size": len(chunk), "_links": links}

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
