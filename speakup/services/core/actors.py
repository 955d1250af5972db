"""Who is asking: a signed-in user with roles, a follow-up token for one report, or nobody."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    user_id: str | None = None
    name: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    # Set for the short-lived token an anonymous reporter gets for their receipt key.
    followup_report_id: str | None = None

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def sees_everything(self) -> bool:
        return self.has_role("safety_officer", "admin")

