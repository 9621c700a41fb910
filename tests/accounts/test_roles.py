"""A role change never takes effect for the one who makes it, nor in a running session."""

import pytest
from django.urls import reverse

from nephro.accounts.models import User
from nephro.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _form(user, **changes):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "is_active": "on",
        **changes,
    }
    return {k: v for k, v in data.items() if v is not None}


def test_an_admin_cannot_give_itself_a_clinical_role(people, client, make_exam):
    exam = make_exam()
    adam = people["admin"]
    client.force_login(adam)
    response = client.post(
        reverse("accounts:edit", args=[adam.pk]), _form(adam, role="radiologist")
    )
    assert response.status_code == 400
    assert "Another administrator" in response.content.decode()
    assert User.objects.get(pk=adam.pk).role == "admin"
    assert client.get(reverse("exams:detail", args=[exam.pk])).status_code == 403


def test_a_role_given_by_another_admin_needs_a_new_sign_in(people, client, make_exam):
    exam = make_exam()
    adam = people["admin"]
    second = User.objects.create_user("eve", role="admin", password="x-long-passphrase")
    client.force_login(adam)
    other = type(client)()
    other.force_login(second)
    response = other.post(reverse("accounts:edit", args=[adam.pk]), _form(adam, role="radiologist"))
    assert response.status_code == 302
    # adam's running session ends: the new role counts only after signing in again.
    page = client.get(reverse("exams:detail", args=[exam.pk]))
    assert page.status_code == 302 and page["Location"].startswith(reverse("login"))
    client.force_login(User.objects.get(pk=adam.pk))
    assert client.get(reverse("exams:detail", args=[exam.pk])).status_code == 200
    assert AuditEvent.objects.filter(action="account.save", username="eve").exists()


def test_an_admin_cannot_deactivate_itself(people, client):
    adam = people["admin"]
    client.force_login(adam)
    response = client.post(reverse("accounts:edit", args=[adam.pk]), _form(adam, is_active=None))
    assert response.status_code == 400
    assert User.objects.get(pk=adam.pk).is_active


def test_a_bad_account_form_answers_400_and_saves_nothing(people, client):
    client.force_login(people["admin"])
    response = client.post(reverse("accounts:create"), {"username": "", "role": "wizard"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
