from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from nephro.accounts.roles import Role


class User(AbstractUser):
    """A person who signs in. Exactly one role decides what they may do."""

    role = models.CharField(max_length=20, choices=Role.choices)
    # Demo accounts have published passwords; they may sign in only in demo mode.
    is_demo = models.BooleanField(default=False)
    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return str(self)

    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()

    def _get_session_auth_hash(self, secret=None) -> str:
        """Every session carries this; a change of password *or role* ends all sessions
        of the account, so a new role only ever takes effect after a new sign-in."""
        return salted_hmac(
            "nephro.accounts.User.session",
            f"{self.password}:{self.role}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()
