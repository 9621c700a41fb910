from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from nephro.accounts.lockout import SIGN_IN
from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record

# One message for a wrong password, an unknown account and a locked one, so the
# sign-in page never tells which account names exist.
NOT_SIGNED_IN = (
    "Please enter a correct username and password. After too many tries an account is "
    "locked for a while: try again later, or reset your password."
)


class LockoutAuthenticationForm(AuthenticationForm):
    """Django's login form plus the lockout (nephro.accounts.lockout) and the demo rule."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": NOT_SIGNED_IN,
        "demo": "Demo accounts can sign in only when Nephro runs in demo mode.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        account = User.objects.filter(username=username)
        address = Actor.of(self.request).address
        if not SIGN_IN.claim(account) and account.exists():
            # As much work as a password check, so the answer's timing tells nothing.
            make_password(self.cleaned_data.get("password"))
            record(
                Actor(user=account.get(), address=address),
                "login",
                outcome=Outcome.DENIED,
                detail={"why": "locked"},
            )
            raise self.get_invalid_login_error()
        try:
            cleaned = super().clean()
        except ValidationError:
            SIGN_IN.failed(account)
            record(
                Actor.of(self.request).claiming(username),
                "login",
                outcome=Outcome.FAILED,
                detail={"why": "credentials"},
            )
            raise
        user = self.get_user()
        if user.is_demo and not settings.DEMO:
            raise ValidationError(self.error_messages["demo"], code="demo")
        SIGN_IN.clear(account)
        record(Actor(user=user, address=address), "login")
        return cleaned


class AccountForm(forms.ModelForm):
    """Validates an account's fields; nephro.accounts.services.save_account stores them."""

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
