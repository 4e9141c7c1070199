"""Who an admin asks about: a user name turned into a `Principal` as a caller would be.

Groups come from ``--groups`` when given, else from the ``[identity]`` directory (the system's
user database, or LDAP/AD), exactly as a caller whose token carries no groups; members of
``[server.auth] admin_groups`` are admins, as over HTTP. Used by `orgkb search --as` and
`orgkb access`.
"""

from __future__ import annotations

import argparse

from orgkb.server.app.access import Access
from orgkb.server.app.principal import Principal
from orgkb.server.config import OrgkbConfig
from orgkb.server.errors import OrgkbError
from orgkb.server.identity.directory import open_directory


def add_group_arguments(parser: argparse.ArgumentParser) -> None:
    """``--groups G [G ...]``: the user's groups, instead of looking them up."""
    parser.add_argument(
        "--groups", nargs="+", metavar="GROUP",
        help="the user's groups (default: looked up in the [identity] directory)",
    )


def principal_for(config: OrgkbConfig, user: str, groups: list[str] | None) -> Principal:
    """The principal ``user`` is, with ``groups`` or the directory's answer; a one-line
    `OrgkbError` when neither can say."""
    user = user.strip()
    if not user:
        raise OrgkbError("give a user name")
    if groups is None:
        directory = open_directory(config.identity)
        if directory is None:
            raise OrgkbError(
                f"cannot look up the groups of {user!r}: give them with --groups, or set [identity] directory "
                '(e.g. "system" for this machine\'s users) in the config'
            )
        found = directory.groups_of(user)  # DirectoryError is one line too
    else:
        found = frozenset(g.strip() for g in groups if g.strip())
    admin = not found.isdisjoint(config.server.auth.admin_groups)
    return Principal(user=user, groups=frozenset(found), admin=admin)


def access_for(config: OrgkbConfig, user: str, groups: list[str] | None) -> Access:
    """The `Access` of ``user`` as a caller with every source (admins ask about documents, not sources)."""
    return Access(name=f"as {user}", principal=principal_for(config, user, groups))
