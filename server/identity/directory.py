"""The `Directory` protocol (a user's groups), `SidNames` (names of Windows SIDs), the system user
database, and `open_directory` for the one `[identity]` names (LDAP: `orgkb.server.identity.ldap`)."""

from __future__ import annotations

import grp
import os
import pwd
from typing import Protocol, runtime_checkable

from orgkb.server.config.identity import IdentityConfig
from orgkb.server.errors import OrgkbError


class DirectoryError(OrgkbError):
    """The directory could not answer (down, wrong credentials, unknown user): said in one line."""


class UnknownUser(DirectoryError):
    """The directory answered: it has no such user (so no groups), as opposed to failing."""


@runtime_checkable
class SidNames(Protocol):
    """A directory that also names Windows SIDs (Active Directory)."""

    def name_of_sid(self, sid: str) -> str | None:
        """``user:<name>`` / ``group:<name>`` for ``sid``; None when no object has it;
        `DirectoryError` when the directory cannot answer."""
        ...


@runtime_checkable
class Directory(Protocol):
    """Where a user's groups are looked up."""

    name: str

    def groups_of(self, user: str) -> frozenset[str]:
        """The names of the groups ``user`` belongs to (nested groups included where the
        directory has them); `DirectoryError` when the user is unknown or the directory fails."""
        ...


class SystemDirectory:
    """This machine's user database (``/etc/passwd`` and ``/etc/group``, or whatever NSS serves)."""

    name = "system"

    def groups_of(self, user: str) -> frozenset[str]:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise UnknownUser(f"no user {user!r} in this machine's user database") from None
        names = set()
        for gid in os.getgrouplist(user, entry.pw_gid):
            try:
                names.add(grp.getgrgid(gid).gr_name)
            except KeyError:
                names.add(str(gid))  # a group id without a name, as the POSIX permissions store it
        return frozenset(names)


def open_directory(config: IdentityConfig) -> Directory | None:
    """The directory ``[identity] directory`` names; None for ``"none"``."""
    if config.directory == "system":
        return SystemDirectory()
    if config.directory == "ldap":
        assert config.ldap is not None  # IdentityConfig checks it
        from orgkb.server.identity.ldap import LdapDirectory

        return LdapDirectory(config.ldap)
    return None
