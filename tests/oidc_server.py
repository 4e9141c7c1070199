"""A real OpenID Connect provider (npm `oidc-provider`) on 127.0.0.1, for tests.

`scripts/install-test-services.sh` installs the package once into a cache folder; tests never
download it. The provider runs tests/oidc_provider.mjs as our child and is stopped by its PID.
Each test user is a client of the provider; `token(user, resource)` mints a JWT access token for
that user with their groups (client_credentials grant with an RFC 8707 resource indicator).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

OIDC_PROVIDER_VERSION = "9.13.3"
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")


def install_dir() -> Path:
    """Where install-test-services.sh puts the package."""
    tools = Path(os.environ.get("ORGKB_TOOLS_DIR", Path.home() / ".cache" / "orgkb-test-tools"))
    return tools / f"oidc-provider-{OIDC_PROVIDER_VERSION}"


def missing() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (scripts/install-test-services.sh installs nodejs)"
    if not (install_dir() / "node_modules" / "oidc-provider" / "package.json").exists():
        return f"oidc-provider is not installed in {install_dir()} (run scripts/install-test-services.sh)"
    return None


@dataclass
class IdpUser:
    groups: list[str]
    ttl: int = 600
    secret: str = field(default="")


class OidcProvider:
    """One provider process with a client per test user."""

    def __init__(self, workdir: Path, users: dict[str, IdpUser]) -> None:
        self.workdir = workdir
        self.users = {name: IdpUser(u.groups, u.ttl, u.secret or f"{name}-client-secret-0f9a") for name, u in users.items()}
        self.issuer = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30.0) -> OidcProvider:
        config = self.workdir / "oidc.json"
        clients = {name: {"secret": u.secret, "groups": u.groups, "ttl": u.ttl} for name, u in self.users.items()}
        config.write_text(json.dumps({"port": 0, "clients": clients}))
        self.process = subprocess.Popen(
            ["node", str(SCRIPT), str(config), str(install_dir())],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=(self.workdir / "oidc.log").open("w"), text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and not line.startswith("listening "):
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {(self.workdir / 'oidc.log').read_text()}")
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError("oidc-provider did not start in time")
        self.issuer = line.split()[1]
        return self

    def token(self, user: str, resource: str, scope: str = "mcp") -> str:
        """A fresh access token (a signed JWT) for ``user``, issued for ``resource``."""
        reply = httpx.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "client_credentials", "client_id": user, "client_secret": self.users[user].secret,
                "resource": resource, "scope": scope,
            },
            timeout=30,
        )
        reply.raise_for_status()
        return str(reply.json()["access_token"])

    def jwks(self) -> dict[str, object]:
        """The provider's published signing keys."""
        return dict(httpx.get(f"{self.issuer}/jwks", timeout=30).json())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
