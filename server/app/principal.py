"""Who a caller is: a user with groups, perhaps an administrator.

Every transport turns its credentials into a `Principal` (an OpenID Connect access token, a
static token's configured identity, the principal named in the config for stdio); per-document
permission checks compare its `names` with the principals a document allows.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orgkb.connectors.permissions import EVERYONE, group_principal, user_principal


class Principal(BaseModel):
    """An authenticated person (or service) and the groups they belong to."""

    model_config = ConfigDict(frozen=True)

    user: str = Field(min_length=1)
    groups: frozenset[str] = frozenset()
    admin: bool = Field(default=False, description="Sees every document of the sources it may see, whatever its permissions.")

    @property
    def names(self) -> frozenset[str]:
        """The principal names a document's permissions may grant: the user, each group, and ``*``."""
        return frozenset({EVERYONE, user_principal(self.user), *(group_principal(g) for g in self.groups)})
