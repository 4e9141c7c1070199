"""A real Samba server (smbd from the Debian package) on 127.0.0.1, for tests.

Everything lives under one private folder: config, password database, state, logs and the
shares. smbd runs in the foreground as our child and is stopped by its PID; it keeps its own
process group (never ``--no-process-group``: on exit smbd signals its whole group).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SMBD = "/usr/sbin/smbd"
SMBPASSWD = "/usr/bin/smbpasswd"


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there, else a free port the OS picks."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free port")


def _ensure_user(name: str) -> None:
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True, capture_output=True,
        )


class SambaServer:
    """smbd serving ``docs`` (readable by ``user``) and ``vault`` (readable by nobody we know)."""

    def __init__(self, root: Path, port: int, user: str = "orgkbsmb", password: str = "SmbPass-1234") -> None:
        self.root = root
        self.port = port
        self.user = user
        self.password = password
        self.share = root / "docs"
        self.conf = root / "smb.conf"
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """Whether smbd and smbpasswd are installed (and we may add a system user)."""
        return Path(SMBD).exists() and Path(SMBPASSWD).exists() and os.geteuid() == 0

    def setup(self) -> None:
        for folder in ("private", "lock", "state", "cache", "pid", "log", "ncalrpc", "docs", "vault"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        _ensure_user(self.user)
        _ensure_user(f"{self.user}2")
        r = self.root
        self.conf.write_text(
            f"""[global]
server role = standalone server
interfaces = 127.0.0.1
bind interfaces only = yes
smb ports = {self.port}
disable netbios = yes
passdb backend = tdbsam:{r}/private/passdb.tdb
private dir = {r}/private
lock directory = {r}/lock
state directory = {r}/state
cache directory = {r}/cache
pid directory = {r}/pid
ncalrpc dir = {r}/ncalrpc
log file = {r}/log/%m.log
log level = 1
load printers = no
printing = bsd
printcap name = /dev/null
disable spoolss = yes
[docs]
path = {r}/docs
read only = no
valid users = {self.user}
force user = {self.user}
[vault]
path = {r}/vault
read only = yes
valid users = {self.user}2
""",
            encoding="utf-8",
        )
        for user in (self.user, f"{self.user}2"):
            subprocess.run(
                [SMBPASSWD, "-c", str(self.conf), "-a", "-s", user],
                input=f"{self.password}\n{self.password}\n".encode(), check=True, capture_output=True,
            )
        shutil.chown(self.share, self.user)
        self.share.chmod(0o755)

    def start(self) -> None:
        log = open(self.root / "log" / "smbd.out", "ab")  # noqa: SIM115 - smbd writes to it while it runs
        # In the foreground smbd exits when its stdin reaches end of file: hold a pipe open.
        # No winbind lookups: a test domain controller's winbindd (tests/samba_ad.py) listens at the
        # default socket and would answer for this server's local users, failing their logins.
        self.process = subprocess.Popen(
            [SMBD, "--foreground", "--debug-stdout", "-s", str(self.conf)],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "_NO_WINBINDD": "1"},
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"smbd exited with {self.process.returncode}; see {self.root / 'log'}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("smbd did not start listening within 30 s")

    def stop(self) -> None:
        """Stop smbd (and the per-client children it forked) by PID."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        # smbd's children serve open connections; they exit when their parent is gone, but a
        # restart on the same port must not race them.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                    break
            time.sleep(0.1)

    def write(self, relative: str, text: str, *, mtime: float | None = None) -> Path:
        """Create or replace a file in the ``docs`` share, owned (with its folders) by the share's user."""
        path = self.share / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        for created in [path, *path.relative_to(self.share).parents]:
            shutil.chown(self.share / created, self.user)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path
