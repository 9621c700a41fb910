from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import get_object_or_404, redirect, render

from nephro.accounts.forms import AccountForm, LockoutAuthenticationForm
from nephro.accounts.models import User
from nephro.audit.actor import Actor
from nephro.audit.services import record


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LockoutAuthenticationForm
    redirect_authenticated_user = True


def account_list(request):
    users = User.objects.order_by("role", "username")
    return render(request, "accounts/list.html", {"users": users})


def account_edit(request, pk=None):
    account = get_object_or_404(User, pk=pk) if pk else User()
    form = AccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        record(
            Actor.of(request), "account.save", saved, detail={"fields": sorted(form.changed_data)}
        )
        messages.success(request, f"Account {saved.username} saved.")
        return redirect("accounts:list")
    return render(
        request,
        "accounts/edit.html",
        {"form": form, "account": account},
        status=400 if form.errors else 200,
    )
