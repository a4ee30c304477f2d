"""Who acts: an organisation with a role, or an anonymous public reader, as a plain value."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("reader", "reporter", "verifier", "admin")
ROLE_RANK = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """Who is calling: an organisation with a role, or an anonymous public reader."""

    org: str | None
    role: str
    key_id: str | None

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def anonymous(self) -> bool:
        return self.key_id is None

    def can_edit(self, owner_org: str | None) -> bool:
        """Reporters and verifiers edit what their organisation created; admins edit anything."""
        if self.role == "admin":
            return True
        return self.at_least("reporter") and owner_org is not None and owner_org == self.org


ANONYMOUS = Principal(org=None, role="reader", key_id=None)
