"""Who acts, and from where: the first argument of every service and of audit.record().

Views build one from the request (`Actor.of(request)`); the DICOM listener, the worker,
the periodic jobs and the demo loader are named system components (`Actor.system(...)`),
shown as such in the audit trail (role ``system``). Services read only what they need:
the person (`actor.user`) and, through the audit trail, the address and on-behalf-of.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nephro.accounts.models import User

SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    """A signed-in person, a named system component, or an anonymous caller.

    ``claimed`` is the account name an anonymous caller gave (a failed sign-in);
    ``on_behalf_of`` names the person the actor acts for (a nurse entering a patient's
    check-in taken by phone).
    """

    user: User | None = None
    component: str = ""
    address: str | None = None
    on_behalf_of: str = ""
    claimed: str = ""

    @classmethod
    def of(cls, request: Any) -> Actor:
        user = getattr(request, "user", None)
        address = request.META.get("REMOTE_ADDR") or None
        if user is None or not user.is_authenticated:
            return cls(address=address)
        return cls(user=user, address=address)

    @classmethod
    def system(cls, component: str, *, address: str | None = None) -> Actor:
        if not component:
            raise ValueError("a system actor needs a name")
        return cls(component=component, address=address)

    @classmethod
    def device(cls, ae_title: str, address: str | None = None) -> Actor:
        """A DICOM peer, named by its calling AE title."""
        return cls.system(f"dicom:{ae_title}", address=address)

    def acting_for(self, who: str) -> Actor:
        return replace(self, on_behalf_of=who)

    def claiming(self, username: str) -> Actor:
        return replace(self, claimed=username)

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return self.component or self.claimed

    @property
    def role(self) -> str:
        if self.user is not None:
            return self.user.role
        return SYSTEM_ROLE if self.component else ""


# The system components that act on their own; each shows under this name in the trail.
WORKER = Actor.system("worker")
FOLLOWUP = Actor.system("followup")
DEMO = Actor.system("demo")
