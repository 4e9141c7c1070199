"""Who may read a file on an SMB share: the DACL of its NTFS security descriptor.

The descriptor is parsed here (MS-DTYP 2.4.6, self-relative form) rather than with
smbprotocol's structures, which reject ACL revisions real servers send (Samba writes 3).

Each ACE that applies to the file itself (not inherit-only) and covers reading
(FILE_READ_DATA, GENERIC_READ or GENERIC_ALL; FILE_ALL_ACCESS includes the first) becomes a
principal: allow entries in `Permissions.principals`, deny entries in `Permissions.denied`.
Deny always wins. With the canonical order NTFS keeps (explicit denies, explicit allows, then
inherited denies and allows) that is what Windows decides, with one difference on the strict
side: an explicit allow for a user does not override an inherited deny for one of their groups
here, while on Windows it does. Conditional (callback) allows are not mirrored; conditional
denies are, as denies. Object ACEs (directory-service only) are ignored.

Principal names: Everyone (S-1-1-0) and Authenticated Users (S-1-5-11) are ``*``; SYSTEM,
CREATOR OWNER and the service accounts are nobody a caller can be; every other SID stays
``sid:S-1-...`` for the server to name through its directory (see
`orgkb.server.index.permissions.resolve_sids`). No DACL at all means everyone; an empty DACL
means nobody. A descriptor that cannot be read or parsed gives `Permissions.nobody`.
"""

from __future__ import annotations

import struct

from pydantic import BaseModel, ConfigDict

from orgkb.connectors.permissions import EVERYONE, Permissions

SID_PREFIX = "sid:"
_DACL_PRESENT = 0x0004
_ALLOWED, _DENIED = 0x00, 0x01
_ALLOWED_CALLBACK, _DENIED_CALLBACK = 0x09, 0x0A
_INHERIT_ONLY = 0x08
_INHERITED = 0x10
_FILE_READ_DATA, _GENERIC_ALL, _GENERIC_READ = 0x00000001, 0x10000000, 0x80000000
_READS = _FILE_READ_DATA | _GENERIC_ALL | _GENERIC_READ
# Well-known SIDs that name everyone signed in, and those no caller can be.
_EVERYONE_SIDS = {"S-1-1-0", "S-1-5-11"}
_NOBODY_SIDS = {"S-1-3-0", "S-1-3-1", "S-1-5-18", "S-1-5-19", "S-1-5-20"}


class Ace(BaseModel):
    """One access control entry: allow or deny, its flags and mask, and whom it names."""

    model_config = ConfigDict(frozen=True)

    type: int
    flags: int
    mask: int
    sid: str

    @property
    def inherited(self) -> bool:
        return bool(self.flags & _INHERITED)


class SecurityDescriptor(BaseModel):
    """The parts of a security descriptor that decide reading (None: no DACL at all)."""

    owner: str | None
    dacl: list[Ace] | None


def sid_string(raw: bytes, offset: int = 0) -> str:
    """A binary SID (MS-DTYP 2.4.2.2) as text, ``S-1-5-21-...``."""
    revision, count = raw[offset], raw[offset + 1]
    authority = int.from_bytes(raw[offset + 2 : offset + 8], "big")
    parts = struct.unpack_from(f"<{count}I", raw, offset + 8)
    return "-".join(["S", str(revision), str(authority), *map(str, parts)])


def parse_security_descriptor(raw: bytes) -> SecurityDescriptor:
    """The owner and DACL of a self-relative security descriptor; ValueError when malformed."""
    try:
        _, _, control, owner_at, _, _, dacl_at = struct.unpack_from("<BBHIIII", raw)
        owner = sid_string(raw, owner_at) if owner_at else None
        if not control & _DACL_PRESENT or not dacl_at:
            return SecurityDescriptor(owner=owner, dacl=None)
        _, _, _, count, _ = struct.unpack_from("<BBHHH", raw, dacl_at)
        aces: list[Ace] = []
        at = dacl_at + 8
        for _ in range(count):
            kind, flags, size = struct.unpack_from("<BBH", raw, at)
            if size < 8:
                raise ValueError(f"ACE of {size} bytes")
            if kind in (_ALLOWED, _DENIED, _ALLOWED_CALLBACK, _DENIED_CALLBACK):
                (mask,) = struct.unpack_from("<I", raw, at + 4)
                aces.append(Ace(type=kind, flags=flags, mask=mask, sid=sid_string(raw, at + 8)))
            at += size
    except (struct.error, IndexError) as exc:
        raise ValueError(f"malformed security descriptor: {exc}") from None
    return SecurityDescriptor(owner=owner, dacl=aces)


def _principal(sid: str) -> str | None:
    if sid in _EVERYONE_SIDS:
        return EVERYONE
    if sid in _NOBODY_SIDS:
        return None
    return SID_PREFIX + sid


def ntfs_permissions(raw: bytes) -> Permissions:
    """Who may read a file with the security descriptor ``raw``."""
    try:
        descriptor = parse_security_descriptor(raw)
    except ValueError as exc:
        return Permissions.nobody(f"cannot read the NTFS permissions: {exc}")
    if descriptor.dacl is None:
        return Permissions.everyone("NTFS: no DACL (everyone has access)")
    allowed: set[str] = set()
    denied: set[str] = set()
    decided: list[str] = []
    for ace in descriptor.dacl:
        if ace.flags & _INHERIT_ONLY or not ace.mask & _READS:
            continue
        name = _principal(ace.sid)
        if ace.type in (_DENIED, _DENIED_CALLBACK):
            # A deny naming nobody a caller can be (SYSTEM) refuses no caller.
            if name is not None:
                denied.add(name)
                decided.append(f"deny {name}{' (inherited)' if ace.inherited else ''}")
        elif ace.type == _ALLOWED and name is not None:
            allowed.add(name)
            decided.append(f"allow {name}{' (inherited)' if ace.inherited else ''}")
    rule = f"NTFS DACL: {', '.join(decided) or 'no entry grants reading'}"
    return Permissions(principals=frozenset(allowed), denied=frozenset(denied), rule=rule)
