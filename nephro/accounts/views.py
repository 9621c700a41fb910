from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy

from nephro.accounts import reset
from nephro.accounts.forms import AccountForm, LockoutAuthenticationForm
from nephro.accounts.lockout import SIGN_IN
from nephro.accounts.models import User
from nephro.accounts.services import AccountError, AccountValues, save_account
from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.lib.paging import page_of


class BadInputIs400:
    """For Django's form views: a form sent back with errors answers HTTP 400."""

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class LoginView(BadInputIs400, auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LockoutAuthenticationForm
    redirect_authenticated_user = True


class PasswordChangeView(BadInputIs400, auth_views.PasswordChangeView):
    template_name = "accounts/password.html"
    success_url = "/"


class PasswordResetView(BadInputIs400, auth_views.PasswordResetView):
    """Anyone may ask; the answer is the same whether or not the address has an account,
    and each address and each caller may ask only a few times an hour (reset.py)."""

    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("password-reset-done")

    def form_valid(self, form):
        if reset.allow(Actor.of(self.request), form.cleaned_data["email"]):
            return super().form_valid(form)
        return redirect(self.success_url)


class PasswordResetConfirmView(BadInputIs400, auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        SIGN_IN.clear(User.objects.filter(pk=self.user.pk))
        record(Actor(user=self.user, address=Actor.of(self.request).address), "password.reset")
        return response


def account_list(request):
    page, keep = page_of(request, User.objects.order_by("role", "username", "pk"))
    return render(request, "accounts/list.html", {"page": page, "keep": keep})


def account_edit(request, pk=None):
    account = get_object_or_404(User, pk=pk) if pk else User()
    form = AccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        try:
            saved = save_account(Actor.of(request), pk, AccountValues.of(form.cleaned_data))
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Account {saved.username} saved.")
            return redirect("accounts:list")
    return render(
        request,
        "accounts/edit.html",
        {"form": form, "account": account},
        status=400 if form.errors else 200,
    )
