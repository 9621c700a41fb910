from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record


class LockoutAuthenticationForm(AuthenticationForm):
    """Django's login form plus lockout after repeated failures and the demo-mode rule."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": "This account is locked after too many failed sign-ins. Try again later "
        "or ask an administrator to unlock it.",
        "demo": "Demo accounts can sign in only when Nephro runs in demo mode.",
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        account = User.objects.filter(username=username).first() if username else None
        if account is not None and account.is_locked():
            record(
                Actor(user=account, address=Actor.of(self.request).address),
                "login",
                outcome=Outcome.DENIED,
                detail={"why": "locked"},
            )
            raise ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned = super().clean()
        except ValidationError:
            if account is not None:
                account.register_failed_login()
            record(
                Actor.of(self.request).claiming(username or ""),
                "login",
                outcome=Outcome.FAILED,
                detail={"why": "credentials"},
            )
            raise
        user = self.get_user()
        if user.is_demo and not settings.DEMO:
            raise ValidationError(self.error_messages["demo"], code="demo")
        user.register_successful_login()
        record(Actor(user=user, address=Actor.of(self.request).address), "login")
        return cleaned


class AccountForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        help_text="At least 10 characters. Leave empty to keep the current password.",
    )
    unlock = forms.BooleanField(required=False, label="Clear lockout")

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "role", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = Role.choices
        if self.instance.pk is None:
            self.fields["password"].required = True

    def clean_password(self):
        password = self.cleaned_data["password"]
        if password:
            validate_password(password, self.instance)
        return password

    def save(self, commit=True):
        user = super().save(commit=False)
        if self.cleaned_data["password"]:
            user.set_password(self.cleaned_data["password"])
        if self.cleaned_data.get("unlock"):
            user.failed_logins, user.locked_until = 0, None
        if commit:
            user.save()
        return user
