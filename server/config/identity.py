"""The `[identity]` section: where users' groups are looked up when a token does not carry them."""

from __future__ import annotations

from typing import Literal

from orgkb.server.config.sections import Section
from pydantic import Field


class IdentityConfig(Section):
    """Which directory answers "which groups is this user in?"."""

    directory: Literal["none", "system"] = Field(
        default="none",
        description='"none": groups come only from tokens and config; "system": this machine\'s user database.',
    )
    lookup_when_token_has_no_groups: bool = Field(
        default=True, description="Look a token's user up in the directory when its groups claim is absent."
    )
