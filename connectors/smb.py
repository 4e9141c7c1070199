"""SMB / Windows file shares (`type = "smb"`): the file connector's rules over a network share.

`SmbTree` implements the `FileTree` protocol with smbprotocol's ``smbclient``; the shared
`TreeScanner` does the rest (globs, ignore files, size limits, version stamps from
modification time and size, parsing), so a share is indexed exactly like a local folder.
Documents are cited as ``smb://server[:port]/share/path/file``.

Each file's NTFS security descriptor (owner and DACL) is read with the listing and becomes its
`Permissions` (`orgkb.connectors.ntfs_permissions`; SIDs are named by the server's directory).
The permissions travel with the listing (Samba and Windows keep a file's change time when only
its ACL changes, so the version cannot tell): an ACL change reaches the index on the next sync
without the file being read or embedded again. That is one extra (compounded) request per file
and sync;
``ntfs_permissions = false`` turns it off, and every file is then readable by everyone who may
see the source. A descriptor that cannot be read makes the file readable by administrators only.

Errors are sorted by what they mean for the index: a server that cannot be reached, a wrong
password or a missing share stop the sync with `ConnectorError` (nothing is deleted); a folder
that cannot be listed becomes a folder failure (its documents are kept); a file that cannot be
read is a document failure (its last indexed version is kept).
"""

from __future__ import annotations

import errno
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import Field, field_validator

from orgkb.connectors.base import BaseConnector, ConnectorType, ConnectorError, CredentialsError, Document, DocumentRef, Failure
from orgkb.connectors.filetree import FileEntry, FileFilterConfig, TreeScanner
from orgkb.connectors.http import secret_from_env
from orgkb.connectors.ntfs_permissions import ntfs_permissions
from orgkb.connectors.permissions import Permissions

log = logging.getLogger(__name__)

T = TypeVar("T")

# NTSTATUS codes (MS-ERREF 2.3.1) by what they mean here.
_BAD_CREDENTIALS = {0xC000006A, 0xC000006D, 0xC0000071, 0xC0000072, 0xC0000234, 0xC000006E, 0xC0000193}
_NO_SUCH_SHARE = 0xC00000CC
_ACCESS_DENIED = 0xC0000022
_NOT_FOUND = {0xC0000034, 0xC000003A, 0xC000000F, 0xC0000225, 0xC0000033, 0xC0000039}
# The session or connection is gone (expired, server restarted): connect again.
_RECONNECT = {0xC00000C9, 0xC0000203, 0xC000035C, 0xC00000B5}


class SmbConfig(FileFilterConfig):
    """A folder on an SMB share and the account that reads it."""

    type: Literal["smb"] = "smb"
    server: str = Field(min_length=1, description="Host name or IP address of the file server.")
    port: int = Field(default=445, ge=1, le=65535)
    share: str = Field(min_length=1, description="Share name, e.g. `Documents`.")
    path: str = Field(default="", description="Folder within the share; empty for the whole share.")
    username: str = Field(min_length=1)
    password_env: str = Field(description="Environment variable holding the password.")
    domain: str | None = Field(default=None, description="Windows domain of the account, if any.")
    connect_timeout: float = Field(default=15.0, gt=0, description="Seconds to wait for the server to answer.")
    connect_retries: int = Field(default=2, ge=0, le=10, description="Retries when connecting fails.")
    ntfs_permissions: bool = Field(
        default=True, description="Mirror each file's NTFS ACL (read with the listing); false: readable by all who see the source."
    )

    @field_validator("share", "path")
    @classmethod
    def _clean(cls, value: str) -> str:
        return "/".join(part for part in value.replace("\\", "/").split("/") if part)



def _permissions_of(descriptor: bytes | str) -> Permissions:
    """A security descriptor as permissions; a reason it could not be read means admins only."""
    if isinstance(descriptor, str):
        return Permissions.nobody(f"cannot read the NTFS permissions: {descriptor}")
    return ntfs_permissions(descriptor)

class SmbTree:
    """A `FileTree` over one folder of an SMB share, with its own connection pool."""

    def __init__(self, config: SmbConfig, password: str) -> None:
        self.config = config
        self._password = password
        self._username = f"{config.domain}\\{config.username}" if config.domain else config.username
        self._connections: dict[str, Any] = {}
        # Security descriptors read with the last listing, by path: loading needs them again.
        self._descriptors: dict[str, bytes | str] = {}

    # --- FileTree -----------------------------------------------------------------------

    def list_dir(self, path: str) -> list[FileEntry]:
        import smbclient

        def listing() -> list[FileEntry]:
            entries = []
            with smbclient.scandir(self._unc(path), **self._session_arguments()) as found:
                for item in found:
                    # smb_info comes with the listing; stat() would open a second, port-less connection.
                    info = item.smb_info
                    rel = f"{path}/{item.name}" if path else item.name
                    if item.is_symlink():
                        # Reparse points are resolved by the server, or not at all: reported, not followed.
                        entries.append(FileEntry(path=rel, is_dir=False, problem="skipped: a link (reparse point) on the share"))
                        continue
                    if item.is_dir():
                        entries.append(FileEntry(path=rel, is_dir=True))
                    else:
                        permissions = self._listed_permissions(rel) if self.config.ntfs_permissions else None
                        entries.append(FileEntry(
                            path=rel, is_dir=False, size=info.end_of_file, mtime=info.last_write_time.timestamp(), permissions=permissions
                        ))
            return entries

        return self._call(listing, f"folder '{path or '/'}'")

    def read(self, path: str) -> bytes:
        import smbclient

        def read_file() -> bytes:
            with smbclient.open_file(self._unc(path), mode="rb", share_access="rw", **self._session_arguments()) as handle:
                return bytes(handle.read())

        return self._call(read_file, f"file '{path}'")

    def permissions(self, path: str) -> Permissions:
        """Who may read the file: its NTFS DACL (as read with the listing, else read now)."""
        descriptor = self._descriptors.pop(path, None)
        if descriptor is None:
            descriptor = self._call(lambda: self._read_descriptor(path), f"the permissions of '{path}'")
        return _permissions_of(descriptor)

    def _listed_permissions(self, path: str) -> Permissions:
        """The file's permissions, read with the listing (and kept for loading it)."""
        descriptor = self._read_descriptor(path)
        self._descriptors[path] = descriptor
        return _permissions_of(descriptor)

    def descriptor_problem(self, path: str) -> str | None:
        """Why the security descriptor of ``path`` (a file or folder) cannot be read; None when it can."""
        descriptor = self._call(lambda: self._read_descriptor(path), f"the permissions of '{path or '/'}'")
        return descriptor if isinstance(descriptor, str) else None

    def _read_descriptor(self, path: str) -> bytes | str:
        """The file's security descriptor (owner, group, DACL), or why it cannot be read.

        Opened with READ_CONTROL only, queried and closed in one compounded request. A lost
        connection propagates (the listing retries); a refusal for this file is its reason."""
        from smbclient._io import SMBFileTransaction, SMBRawIO
        from smbprotocol.file_info import InfoType
        from smbprotocol.open import InfoAdditionalInformation, SMB2QueryInfoRequest, SMB2QueryInfoResponse
        from smbprotocol.security_descriptor import AccessMask

        raw = SMBRawIO(self._unc(path), mode="rb", share_access="rwd", desired_access=AccessMask.READ_CONTROL, **self._session_arguments())
        request = SMB2QueryInfoRequest()
        request["info_type"] = InfoType.SMB2_0_INFO_SECURITY
        request["output_buffer_length"] = 64 * 1024
        request["additional_information"] = (
            InfoAdditionalInformation.OWNER_SECURTIY_INFORMATION
            | InfoAdditionalInformation.GROUP_SECURITY_INFORMATION
            | InfoAdditionalInformation.DACL_SECURITY_INFORMATION
        )
        request["file_id"] = raw.fd.file_id

        def receive(sent: Any) -> bytes:
            response = raw.fd.connection.receive(sent)
            answer = SMB2QueryInfoResponse()
            answer.unpack(response["data"].get_value())
            return bytes(answer["buffer"].get_value())

        try:
            with SMBFileTransaction(raw) as transaction:
                transaction += (request, receive)
        except OSError as exc:
            status = _status_of(exc)
            if status is None or status in _RECONNECT:
                raise
            if status == _ACCESS_DENIED:
                return f"access denied to {self._username} (it needs READ_CONTROL)"
            return _reason(exc)
        return transaction.results[0]

    def uri(self, path: str) -> str:
        host = self.config.server if self.config.port == 445 else f"{self.config.server}:{self.config.port}"
        parts = [self.config.share, *(p for p in self.config.path.split("/") if p), *(p for p in path.split("/") if p)]
        return f"smb://{host}/" + "/".join(quote(part) for part in parts)

    # --- connection -----------------------------------------------------------------------

    def verify(self) -> None:
        """Connect, log in, open the share and the folder; one clear `ConnectorError` otherwise."""
        import smbclient

        where = f"{self.config.server}:{self.config.port}"
        self._call(self._connect, "the server")
        share = f"\\\\{self.config.server}\\{self.config.share}"
        try:
            self._call(lambda: smbclient.stat(share, **self._session_arguments()), "the share")
        except OSError as exc:
            status = getattr(exc, "ntstatus", None)
            if status == _NO_SUCH_SHARE or exc.errno == errno.ENOENT:
                raise ConnectorError(f"{self.config.name}: share '{self.config.share}' not found on {where}: check `share`") from exc
            if status == _ACCESS_DENIED:
                raise ConnectorError(
                    f"{self.config.name}: {self._username} may not open share '{self.config.share}' on {where} (access denied)"
                ) from exc
            raise ConnectorError(f"{self.config.name}: cannot open share '{self.config.share}' on {where}: {_reason(exc)}") from exc
        if self.config.path:
            try:
                self.list_dir("")
            except OSError as exc:
                folder = f"'{self.config.path}' in share '{self.config.share}'"
                if getattr(exc, "ntstatus", None) in _NOT_FOUND or exc.errno == errno.ENOENT:
                    raise ConnectorError(f"{self.config.name}: folder {folder} not found: check `path`") from exc
                if getattr(exc, "ntstatus", None) == _ACCESS_DENIED:
                    raise ConnectorError(f"{self.config.name}: {self._username} may not list folder {folder} (access denied)") from exc
                raise ConnectorError(f"{self.config.name}: cannot list folder {folder}: {_reason(exc)}") from exc

    def close(self) -> None:
        """Log off and close this tree's connections (a connection already broken is just dropped)."""
        while self._connections:
            _, connection = self._connections.popitem()
            try:
                connection.disconnect(close=True, timeout=5)
            except Exception as exc:  # noqa: BLE001 - closing what may already be gone
                log.debug("%s: closing a broken SMB connection: %s", self.config.name, exc)

    def _connect(self) -> None:
        import smbclient

        smbclient.register_session(
            self.config.server, username=self._username, password=self._password, port=self.config.port,
            connection_timeout=self.config.connect_timeout, connection_cache=self._connections,
        )

    def _session_arguments(self) -> dict[str, Any]:
        # Every smbclient call needs the port and credentials again: they select the pooled session.
        return {
            "username": self._username, "password": self._password, "port": self.config.port,
            "connection_timeout": self.config.connect_timeout, "connection_cache": self._connections,
        }

    def _unc(self, path: str) -> str:
        parts = [self.config.server, self.config.share, *self.config.path.split("/"), *path.split("/")]
        return "\\\\" + "\\".join(part for part in parts if part)

    def _call(self, operation: Callable[[], T], what: str) -> T:
        """Run a read-only operation; reconnect and retry when the connection fails.

        An error status from the server (access denied, not found, no such share) comes back
        as the `OSError` it is, for the caller to report; a rejected login as
        `CredentialsError`; a connection that cannot be made or breaks, after the retries, as
        `ConnectorError`.
        """
        failure: Exception | None = None
        for attempt in range(self.config.connect_retries + 1):
            if attempt:
                log.info("%s: reading %s failed (%s); reconnecting", self.config.name, what, _reason(failure))
                self.close()
                time.sleep(0.5 * 2 ** (attempt - 1) * (0.5 + random.random()))
            try:
                return operation()
            except Exception as exc:  # noqa: BLE001 - smbprotocol reports a failed connection as ValueError and others
                status = _status_of(exc)
                if status in _BAD_CREDENTIALS:
                    raise CredentialsError(
                        f"{self.config.name}: {self.config.server} rejected the login of {self._username}: "
                        f"check `username` and the password in {self.config.password_env}"
                    ) from exc
                if status is not None and status not in _RECONNECT:
                    if isinstance(exc, OSError):
                        raise
                    raise ConnectorError(f"{self.config.name}: {self.config.server} refused {what}: {_reason(exc)}") from exc
                failure = exc  # no answer, a broken connection or a lost session
        raise ConnectorError(
            f"{self.config.name}: cannot reach SMB server {self.config.server}:{self.config.port}: "
            f"{_reason(failure or RuntimeError('no attempt'))}"
        ) from failure


def _status_of(exc: Exception) -> int | None:
    """The NTSTATUS an error carries: `SMBOSError.ntstatus` or `SMBResponseException.status`."""
    status = getattr(exc, "ntstatus", None)
    if status is None and type(exc).__module__.startswith("smbprotocol"):
        status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("\n", 1)[0]


class SmbConnector(BaseConnector):
    """Indexes the files of a folder on an SMB share with the file connector's rules."""

    def __init__(self, config: SmbConfig) -> None:
        self.config = config
        self._scanner: TreeScanner | None = None

    @property
    def scanner(self) -> TreeScanner:
        """The scanner over the share, built on first use (reading the password from its variable)."""
        if self._scanner is None:
            password = secret_from_env(self.config.password_env, self.config.name, "SMB password") or ""
            self._scanner = TreeScanner(SmbTree(self.config, password), self.config)
        return self._scanner

    @property
    def tree(self) -> SmbTree:
        tree = self.scanner.tree
        assert isinstance(tree, SmbTree)
        return tree

    def check(self) -> list[str]:
        self.tree.verify()
        if not self.config.ntfs_permissions or self.config.allow is not None:
            return []
        # The folder's own descriptor stands in for its files': an account without READ_CONTROL
        # usually lacks it everywhere, and then every file is for administrators only.
        problem = self.tree.descriptor_problem("")
        if problem is not None:
            where = f"folder '{self.config.path}'" if self.config.path else f"share '{self.config.share}'"
            return [f"cannot read the NTFS permissions of {where}: {problem}; files it cannot read them for are shown to orgkb's administrators only"]
        return []

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        self.tree.verify()
        yield from self.scanner.walk()

    def load(self, ref: DocumentRef) -> Document:
        document = self.scanner.load(ref)
        if not self.config.ntfs_permissions:
            return document
        return document.model_copy(update={"permissions": self.tree.permissions(self.scanner.path_of(ref.key))})

    def close(self) -> None:
        """Log off the share (loading documents after the listing reconnects on demand)."""
        if self._scanner is not None:
            self.tree.close()


CONNECTOR = ConnectorType(type="smb", config_model=SmbConfig, factory=SmbConnector, description="A folder on an SMB / Windows file share.")
