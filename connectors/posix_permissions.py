"""Who may read a local file: its POSIX owner, group and mode bits, and its POSIX ACL if any.

Read permission maps to principals: the owner (``user:<name>``) when the owner may read, the
file's group (``group:<name>``) when the group may, everyone (``*``) when others may; an ACL
adds its named users and groups (limited by its mask). Ids without a name on this machine stay
numeric (``user:1234``). Permissions that cannot be read give `Permissions.nobody`. The folders
above a file are not consulted: a source's root is where the organisation decides visibility.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import struct
from pathlib import Path

from orgkb.connectors.permissions import EVERYONE, Permissions, group_principal, user_principal

ACL_XATTR = "system.posix_acl_access"
# Linux's on-disk ACL format (linux/posix_acl_xattr.h): a version word, then (tag, perm, id) entries.
_ACL_VERSION = 2
_ACL_ENTRY = struct.Struct("<HHI")
_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_READ = 0x04


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def read_acl(path: Path) -> list[tuple[int, int, int]] | None:
    """The file's access ACL as (tag, permissions, id) entries; None when it has none (or the
    filesystem keeps none)."""
    try:
        raw = os.getxattr(path, ACL_XATTR)
    except OSError:
        return None
    if len(raw) < 4 or struct.unpack_from("<I", raw)[0] != _ACL_VERSION:
        return None
    return [_ACL_ENTRY.unpack_from(raw, offset) for offset in range(4, len(raw) - _ACL_ENTRY.size + 1, _ACL_ENTRY.size)]


def posix_permissions(path: Path) -> Permissions:
    """The principals allowed to read the file at ``path``."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return Permissions.nobody(f"cannot read permissions: {exc.strerror or exc}")
    owner, group = _user_name(info.st_uid), _group_name(info.st_gid)
    mode = stat.S_IMODE(info.st_mode)
    names: set[str] = set()
    if mode & stat.S_IRUSR:
        names.add(user_principal(owner))
    if mode & stat.S_IROTH:
        names.add(EVERYONE)
    rule = f"posix mode {mode:04o}, owner {owner}, group {group}"
    acl = read_acl(path)
    if not acl:
        if mode & stat.S_IRGRP:
            names.add(group_principal(group))
        return Permissions(principals=frozenset(names), rule=rule)
    # With an ACL, the group bits of the mode are its mask; named entries and the owning group
    # read only when both their entry and the mask allow it.
    mask = next((perm for tag, perm, _ in acl if tag == _MASK), _READ)
    named: list[str] = []
    for tag, perm, ident in acl:
        if not (perm & _READ and mask & _READ):
            continue
        if tag == _USER:
            named.append(user_principal(_user_name(ident)))
        elif tag == _GROUP:
            named.append(group_principal(_group_name(ident)))
        elif tag == _GROUP_OBJ:
            named.append(group_principal(group))
    names.update(named)
    return Permissions(principals=frozenset(names), rule=f"{rule}, ACL {', '.join(sorted(named)) or 'without readers'}")
