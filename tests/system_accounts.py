"""Real system users and groups for permission tests, created with useradd/groupadd and removed
again: only the ones a test made, never an account that was already there."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def system_accounts(users: dict[str, str]) -> Iterator[dict[str, str]]:
    """Each ``user`` with ``users[user]`` as primary group; skips without root or useradd."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("creating system users and groups needs root and useradd")
    made_users, made_groups = [], []
    try:
        for user, group in users.items():
            if subprocess.run(["getent", "group", group], capture_output=True).returncode != 0:
                subprocess.run(["groupadd", "--system", group], check=True, capture_output=True)
                made_groups.append(group)
            if subprocess.run(["id", user], capture_output=True).returncode != 0:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "-g", group, user],
                    check=True, capture_output=True,
                )
                made_users.append(user)
        yield users
    finally:
        for user in made_users:
            subprocess.run(["userdel", user], capture_output=True)
        for group in made_groups:
            subprocess.run(["groupdel", group], capture_output=True)


def write_owned(path: Path, text: str, owner: str, group: str, mode: int) -> None:
    """Write ``path`` owned by ``owner:group`` with ``mode``."""
    path.write_text(text)
    shutil.chown(path, owner, group)
    path.chmod(mode)
