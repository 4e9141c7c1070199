"""An LDAP / Active Directory server as the `Directory`: a user's groups, and the names of SIDs.

With ``kind = "ad"`` a user's groups are every group that contains them, directly or through
other groups (AD's in-chain matching rule, LDAP_MATCHING_RULE_IN_CHAIN), plus their primary
group (``Domain Users``), which AD keeps out of ``member``. With ``kind = "ldap"`` they are the
groups whose ``member`` names the user, and the groups containing those, followed level by
level. Groups are named by ``group_name_attribute`` (AD: ``sAMAccountName``), the same names
tokens carry and file ACLs resolve to.

`name_of_sid` turns a Windows SID (from an NTFS ACL) into ``user:x`` / ``group:y`` so SMB
permissions and callers' groups speak the same names. Answers are cached for
``cache_seconds``. A server that is down, refuses the bind or fails a search raises
`DirectoryError` in one line; the connection is opened again on the next call.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from orgkb.connectors.ntfs_permissions import sid_string
from orgkb.connectors.permissions import group_principal, user_principal
from orgkb.server.config.identity import LdapConfig
from orgkb.server.identity.directory import DirectoryError, UnknownUser

IN_CHAIN = "1.2.840.113556.1.4.1941"
# Followed at most this deep for plain LDAP (a loop of groups must end).
MAX_NESTING = 16


class LdapDirectory:
    """Users' groups and SIDs' names from one LDAP / AD server (thread-safe, one connection)."""

    name = "ldap"

    def __init__(self, config: LdapConfig, password: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._password = password  # read from the environment at the first connection when None
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: Any = None
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._sids: dict[str, tuple[float, str | None]] = {}

    # --- Directory --------------------------------------------------------------------------

    def groups_of(self, user: str) -> frozenset[str]:
        """The names of every group ``user`` belongs to, nested ones included; `UnknownUser`
        when the directory has no such user, `DirectoryError` when it cannot answer."""
        cached = self._cached(self._groups, user)
        if cached is not None:
            return cached
        with self._lock:
            entry = self._find_user(user)
            if self.config.kind == "ad":
                groups = self._ad_groups(entry)
            else:
                groups = self._ldap_groups(entry.entry_dn)
        self._groups[user] = (self._clock(), groups)
        return groups

    def name_of_sid(self, sid: str) -> str | None:
        """``user:<name>`` or ``group:<name>`` for a SID (``S-1-5-21-...``); None when the
        directory has no object with it (a deleted account); `DirectoryError` when it cannot answer."""
        cached = self._cached(self._sids, sid, missing=False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        from ldap3.utils.conv import escape_filter_chars

        with self._lock:
            found = self._search(f"(objectSid={escape_filter_chars(sid)})", ["objectClass", self.config.group_name_attribute, self.config.user_name_attribute])
        name: str | None = None
        if found:
            entry = found[0]
            classes = {c.lower() for c in entry["objectClass"].values}
            if "group" in classes:
                name = group_principal(str(entry[self.config.group_name_attribute].value))
            else:
                name = user_principal(str(entry[self.config.user_name_attribute].value))
        self._sids[sid] = (self._clock(), name)
        return name

    def close(self) -> None:
        """Unbind (a connection already gone is just dropped)."""
        with self._lock:
            self._drop()

    # --- lookups ----------------------------------------------------------------------------

    def _find_user(self, user: str) -> Any:
        from ldap3.utils.conv import escape_filter_chars

        query = self.config.user_filter.replace("{user}", escape_filter_chars(user))
        found = self._search(query, ["objectSid", "primaryGroupID"])
        if not found:
            raise UnknownUser(f"{self.config.url}: no user {user!r} under {self.config.base_dn} (filter {query})")
        return found[0]

    def _ad_groups(self, entry: Any) -> frozenset[str]:
        from ldap3.utils.conv import escape_filter_chars

        attribute = self.config.group_name_attribute
        members = [entry.entry_dn]
        names: set[str] = set()
        primary = _primary_group_sid(entry)
        if primary is not None:
            for group in self._search(f"(objectSid={escape_filter_chars(primary)})", [attribute]):
                names.add(str(group[attribute].value))
                members.append(group.entry_dn)
        for dn in members:
            # Every group containing the user (or their primary group), at any depth.
            query = f"(&(objectClass=group)(member:{IN_CHAIN}:={escape_filter_chars(dn)}))"
            names.update(str(g[attribute].value) for g in self._search(query, [attribute]))
        return frozenset(names)

    def _ldap_groups(self, user_dn: str) -> frozenset[str]:
        from ldap3.utils.conv import escape_filter_chars

        attribute = self.config.group_name_attribute
        names: set[str] = set()
        seen: set[str] = set()
        frontier = [user_dn]
        for _ in range(MAX_NESTING):
            found = []
            for dn in frontier:
                found += self._search(f"(member={escape_filter_chars(dn)})", [attribute])
            frontier = [g.entry_dn for g in found if g.entry_dn not in seen]
            seen.update(frontier)
            names.update(str(g[attribute].value) for g in found if g[attribute].value)
            if not frontier:
                break
        return frozenset(names)

    # --- the connection -----------------------------------------------------------------------

    def _search(self, query: str, attributes: list[str]) -> list[Any]:
        """The entries matching ``query`` under the base DN; one reconnect when the connection dropped."""
        from ldap3.core.exceptions import LDAPException

        for attempt in range(2):
            connection = self._connect()
            try:
                connection.search(self.config.base_dn, query, attributes=attributes)
            except LDAPException as exc:
                self._drop()
                if attempt:
                    raise DirectoryError(f"{self.config.url}: search failed: {_reason(exc)}") from None
                continue
            result = connection.result or {}
            if result.get("result", 0) not in (0, 4):  # success, or size limit exceeded with partial entries
                raise DirectoryError(f"{self.config.url}: search {query} failed: {result.get('description')} {result.get('message', '')}".strip())
            return list(connection.entries)
        raise AssertionError("unreachable")

    def _connect(self) -> Any:
        if self._connection is not None and self._connection.bound:
            return self._connection
        import ssl

        import ldap3
        from ldap3.core.exceptions import LDAPException

        config = self.config
        if self._password is None:
            self._password = os.environ.get(config.password_env)
            if self._password is None:
                raise DirectoryError(f"identity.ldap: environment variable {config.password_env} (the LDAP bind password) is not set")
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if config.verify_tls else ssl.CERT_NONE,
            ca_certs_file=config.ca_file,
        )
        server = ldap3.Server(config.url, connect_timeout=config.timeout_seconds, get_info=ldap3.NONE, tls=tls)
        connection = ldap3.Connection(
            server, user=config.bind_dn, password=self._password, receive_timeout=math.ceil(config.timeout_seconds),  # ldap3 wants whole seconds
            read_only=True, raise_exceptions=False, auto_referrals=False,
        )
        try:
            connection.open()
            if config.start_tls:
                connection.start_tls()
            bound = connection.bind()
        except LDAPException as exc:
            raise DirectoryError(f"cannot reach the directory at {config.url}: {_reason(exc)}") from None
        if not bound:
            result = connection.result or {}
            if result.get("description") == "invalidCredentials":
                raise DirectoryError(
                    f"{config.url} rejected the bind of {config.bind_dn}: check `bind_dn` and the password in {config.password_env}"
                )
            if result.get("description") == "strongerAuthRequired":
                raise DirectoryError(f"{config.url} requires TLS for binds: use ldaps:// or start_tls = true")
            raise DirectoryError(f"{config.url}: bind as {config.bind_dn} failed: {result.get('description')} {result.get('message', '')}".strip())
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.unbind()
            except Exception:  # noqa: BLE001 - unbinding a connection that is already gone
                pass
            self._connection = None

    def _cached(self, cache: dict[str, tuple[float, Any]], key: str, missing: Any = None) -> Any:
        hit = cache.get(key)
        if hit is None or self._clock() - hit[0] > self.config.cache_seconds:
            return missing
        return hit[1]


def _primary_group_sid(entry: Any) -> str | None:
    """The SID of an AD user's primary group: the user's domain SID with primaryGroupID as its last part."""
    rid = entry["primaryGroupID"].value if "primaryGroupID" in entry else None
    raw = entry["objectSid"].raw_values[0] if "objectSid" in entry and entry["objectSid"].raw_values else None
    if rid is None or raw is None:
        return None
    user_sid = sid_string(bytes(raw))
    return f"{user_sid.rsplit('-', 1)[0]}-{int(rid)}"


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).split("\n", 1)[0]
