"""A real Samba Active Directory domain controller (Debian's ``samba-ad-dc``) on 127.0.0.1, for tests.

`SambaDomain` provisions the ``ORGKB.TEST`` domain into a private folder, starts ``samba -i``
in its own process group (stopped by that group's id), and fills it with the people the
permission tests use:

- ``alice`` is a member of ``hr-leads``, itself a member of ``hr`` (a nested group);
- ``bob`` is a member of ``finance``; ``carol`` is a direct member of ``hr``;
- ``indexer`` is an ordinary account, in no group of these.

The share ``docs`` holds files whose NTFS ACLs the tests set with ``smbcacls``. The domain
controller takes the standard ports (LDAP 389, SMB 445, ...) on 127.0.0.1 only; test domains
allow simple LDAP binds without TLS (``ldap server require strong auth = no``). Its winbindd
answers at the system's default socket (clients find it there, whatever the config says), so
the standalone smbd of tests/samba_server.py runs with winbind lookups off.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

REALM = "ORGKB.TEST"
DOMAIN = "ORGKB"
BASE_DN = "DC=orgkb,DC=test"
ADMIN_PASSWORD = "Passw0rd-Orgkb1"
# indexer: an ordinary account (no admin rights) for tests of what a limited reader cannot see.
USERS = {"alice": "Alice-Pass-123", "bob": "Bob-Pass-1234", "carol": "Carol-Pass-123", "indexer": "Indexer-Pass-123"}
# group -> members (users or groups), created in this order.
GROUPS = {"hr": [], "hr-leads": ["alice"], "finance": ["bob"]}
NESTED = {"hr": ["hr-leads", "carol"]}
PORTS = (389, 445)
PROGRAMS = ("/usr/bin/samba-tool", "/usr/sbin/samba", "/usr/bin/smbcacls")


def unavailable_reason() -> str | None:
    """Why a domain controller cannot be started here, or None."""
    missing = [p for p in PROGRAMS if not Path(p).exists()]
    if missing:
        return f"{', '.join(missing)} not installed (scripts/install-test-services.sh installs samba-ad-dc, smbclient)"
    if not Path("/usr/share/samba/setup").is_dir():
        return "samba-ad-provision is not installed (scripts/install-test-services.sh installs it)"
    if os.geteuid() != 0:
        return "a Samba domain controller needs root"
    busy = [port for port in PORTS if _listening(port)]
    if busy:
        return f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 are taken: another domain controller or smbd runs"
    return None


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class SambaDomain:
    """One provisioned domain: its config, its running ``samba`` and its ``docs`` share."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "etc" / "smb.conf"
        self.share = root / "share"
        self.process: subprocess.Popen[bytes] | None = None
        self.admin = f"{DOMAIN}\\Administrator"
        self.admin_password = ADMIN_PASSWORD
        self.base_dn = BASE_DN
        self.ldap_url = "ldap://127.0.0.1:389"
        self.users = dict(USERS)

    # --- life cycle -----------------------------------------------------------------------

    def provision(self) -> None:
        """Provision the domain (about 10-30 s) and write its config: 127.0.0.1 only, a ``docs`` share."""
        self._run(
            "samba-tool", "domain", "provision", "--use-rfc2307", f"--realm={REALM}", f"--domain={DOMAIN}",
            "--server-role=dc", "--dns-backend=NONE", f"--adminpass={ADMIN_PASSWORD}", f"--targetdir={self.root}",
            "--host-ip=127.0.0.1", "--option=interfaces=127.0.0.1", "--option=bind interfaces only=yes",
            timeout=180, configured=False,
        )
        self.share.mkdir()
        # The provisioned [global] section, without its log file and service list (replaced below).
        generated = self.conf.read_text(encoding="utf-8").split("[homes]")[0].splitlines()
        kept = [line for line in generated if line.strip().partition(" =")[0] not in ("log file", "server services")]
        # Only what the tests use: no DNS, Kerberos, replication or NetBIOS; few worker processes.
        extra = [
            f"\tlog file = {self.root}/log.%m",
            "\tldap server require strong auth = no",
            "\tserver services = s3fs, rpc, ldap, winbindd",
            "\tdisable netbios = yes",
            "\tprefork children = 1",
        ]
        at = kept.index("[global]") + 1
        text = "\n".join(kept[:at] + extra + kept[at:]) + "\n"
        text += f"\n[docs]\n\tpath = {self.share}\n\tread only = No\n"
        self.conf.write_text(text, encoding="utf-8")
        for user, password in USERS.items():
            self.tool("user", "add", user, password)
        for group, members in GROUPS.items():
            self.tool("group", "add", group)
            if members:
                self.tool("group", "addmembers", group, ",".join(members))
        for group, members in NESTED.items():
            self.tool("group", "addmembers", group, ",".join(members))

    def start(self) -> None:
        """Start ``samba -i`` in a process group of its own; wait (at most 60 s) for LDAP and SMB."""
        log = open(self.root / "samba.out", "ab")  # noqa: SIM115 - samba writes to it while it runs
        self.process = subprocess.Popen(
            ["/usr/sbin/samba", "-i", f"--configfile={self.conf}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"samba exited with {self.process.returncode}; see {self.root / 'samba.out'}")
            if all(_listening(port) for port in PORTS):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the Samba domain controller did not listen on 389 and 445 within 60 s")

    def stop(self) -> None:
        """Stop samba and every process it forked (its process group), by the group's id."""
        if self.process is None or self.process.poll() is not None:
            return
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_listening(port) for port in PORTS):
            time.sleep(0.1)
        try:
            os.killpg(group, signal.SIGKILL)  # forked workers still winding down
        except ProcessLookupError:
            pass

    # --- tools ----------------------------------------------------------------------------

    def tool(self, *args: str) -> str:
        """Run ``samba-tool`` against this domain; its output."""
        return self._run("samba-tool", *args)

    def write(self, relative: str, text: str) -> Path:
        """Create or replace a file in the ``docs`` share (its ACL then follows the folder's)."""
        path = self.share / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def smbcacls(self, relative: str, *args: str) -> str:
        """Run ``smbcacls`` on a file of the ``docs`` share as the domain's administrator."""
        return self._run(
            "smbcacls", "//127.0.0.1/docs", relative.replace("/", "\\"), "-U", f"{self.admin}%{ADMIN_PASSWORD}", *args
        )

    def set_acl(self, relative: str, *entries: str) -> None:
        """Replace a file's DACL, e.g. ``set_acl("a.md", "ORGKB\\\\hr:ALLOWED/0x0/READ")``.
        Domain Admins always keep full control (the indexing account is the administrator)."""
        aces = [f"{DOMAIN}\\Domain Admins:ALLOWED/0x0/FULL", *entries]
        self.smbcacls(relative, "--set", ",".join(f"ACL:{entry}" for entry in aces))

    def _run(self, program: str, *args: str, timeout: float = 60, configured: bool = True) -> str:
        # samba-tool takes its options after the subcommand: the config file goes last.
        command = [shutil.which(program) or program, *args, *([f"--configfile={self.conf}"] if configured else [])]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args[:3])} failed: {(done.stderr or done.stdout).strip()[-800:]}")
        return done.stdout
