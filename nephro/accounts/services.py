"""Account writes by an administrator. Audited; a role never changes for the one who
changes it (two-person rule), and any role change ends the account's sessions
(User._get_session_auth_hash), so it takes effect only at the next sign-in."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from nephro.accounts.lockout import SIGN_IN
from nephro.accounts.models import User
from nephro.audit.actor import Actor
from nephro.audit.services import record


class AccountError(Exception):
    """A change that is not allowed, with the reason for the administrator."""


@dataclass(frozen=True)
class AccountValues:
    username: str
    first_name: str
    last_name: str
    email: str
    role: str
    is_active: bool
    password: str = ""
    unlock: bool = False

    @classmethod
    def of(cls, data: dict) -> AccountValues:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


FIELDS = ("username", "first_name", "last_name", "email", "role", "is_active")


def save_account(actor: Actor, account_id: int | None, values: AccountValues) -> User:
    with transaction.atomic():
        account = User.objects.select_for_update().get(pk=account_id) if account_id else User()
        if account.pk is not None and account.pk == getattr(actor.user, "pk", None):
            if values.role != account.role:
                raise AccountError(
                    "You cannot change your own role. Another administrator must do it, "
                    "and it takes effect when you next sign in."
                )
            if not values.is_active:
                raise AccountError("You cannot deactivate your own account.")
        changed = [name for name in FIELDS if getattr(account, name) != getattr(values, name)]
        for name in FIELDS:
            setattr(account, name, getattr(values, name))
        if values.password:
            account.set_password(values.password)
            changed.append("password")
        account.save()
        if values.unlock:
            SIGN_IN.clear(User.objects.filter(pk=account.pk))
            changed.append("lockout cleared")
        record(actor, "account.save", account, detail={"fields": sorted(changed)})
    return account
