"""A throwaway PostgreSQL 15 cluster on 127.0.0.1 for tests and benchmarks.

Started from the Debian package (`postgresql-15`, see scripts/install-test-services.sh): initdb
into a temporary folder as the ``postgres`` user, then ``pg_ctl start`` on a free port with
fsync off. Stopped by ``pg_ctl stop``; the folder is removed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

BIN = Path(os.environ.get("ORGKB_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER_PASSWORD = "Pg-Super-Secret-4711"


def unavailable_reason() -> str | None:
    """Why a cluster cannot be started here (None when it can)."""
    if not (BIN / "initdb").exists():
        return f"PostgreSQL 15 is not installed ({BIN}/initdb missing): run scripts/install-test-services.sh"
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "starting PostgreSQL needs root (initdb runs as the postgres user via runuser)"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One running cluster: superuser ``postgres`` (trust on the socket, password on TCP)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"

    @classmethod
    def start(cls) -> PostgresServer:
        """initdb and start a cluster; raises `RuntimeError` with the server log on failure."""
        root = Path(tempfile.mkdtemp(prefix="orgkb-pg-"))
        shutil.chown(root, "postgres", "postgres")
        (root / "pw").write_text(SUPERUSER_PASSWORD + "\n")
        shutil.chown(root / "pw", "postgres", "postgres")
        server = cls(root, free_port())
        server._as_postgres(
            "initdb", "-D", str(server.data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={root / 'pw'}",
        )
        options = (
            f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off"
        )
        try:
            server._as_postgres("pg_ctl", "-D", str(server.data), "-l", str(root / "server.log"), "-w", "-t", "60", "-o", options, "start")
        except RuntimeError as exc:
            log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"{exc}\n{log[-2000:]}") from None
        return server

    def _as_postgres(self, program: str, *args: str) -> None:
        process = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(BIN / program), *args],
            capture_output=True, text=True, timeout=120, cwd=self.root,
        )
        if process.returncode != 0:
            raise RuntimeError(f"{program} failed: {process.stderr.strip() or process.stdout.strip()}")

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """An autocommit superuser connection over the Unix socket."""
        return psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname=dbname, autocommit=True, **kwargs)

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run statements as superuser; the rows of the last one (if it returns rows)."""
        with self.connect(dbname) as connection:
            cursor = connection.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []

    def url(self, user: str, dbname: str) -> str:
        """A SQLAlchemy URL over TCP, without password."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        """Stop the cluster and remove its files."""
        try:
            self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
