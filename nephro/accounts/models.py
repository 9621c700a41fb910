from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

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

    def register_failed_login(self) -> None:
        self.failed_logins += 1
        if self.failed_logins >= settings.NEPHRO_LOCKOUT_ATTEMPTS:
            self.locked_until = timezone.now() + timedelta(minutes=settings.NEPHRO_LOCKOUT_MINUTES)
            self.failed_logins = 0
        self.save(update_fields=["failed_logins", "locked_until"])

    def register_successful_login(self) -> None:
        if self.failed_logins or self.locked_until:
            self.failed_logins = 0
            self.locked_until = None
            self.save(update_fields=["failed_logins", "locked_until"])
