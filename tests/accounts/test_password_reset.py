"""Password reset by e-mail, for staff and patients: one answer whether or not the
address has an account, a few requests an hour at most, and the link works once."""

import re

import pytest
from django.urls import reverse

from nephro.accounts import reset
from nephro.accounts.models import User
from nephro.audit.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW = "a-brand-new-passphrase"


def _ask(client, email):
    return client.post(reverse("password-reset"), {"email": email}, follow=True)


def _link(mail) -> str:
    return re.search(r"https?://[^/\s]+(/password/reset/\S+/)", mail.body).group(1)


@pytest.mark.parametrize("who", ["nurse", "patient"])
def test_it_mails_a_link_that_sets_a_new_password_once(people, client, mailoutbox, who):
    user = people[who]
    User.objects.filter(pk=user.pk).update(email=f"{user.username}@example.org")
    _ask(client, f"{user.username}@example.org")
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [f"{user.username}@example.org"]
    link = _link(mailoutbox[0])
    form = client.get(link, follow=True)
    post_to = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = client.post(post_to, {"new_password1": NEW, "new_password2": NEW}, follow=True)
    assert "Your new password is saved" in done.content.decode()
    assert User.objects.get(pk=user.pk).check_password(NEW)
    assert AuditEvent.objects.filter(action="password.reset", username=user.username).exists()
    again = client.get(link, follow=True)
    assert "does not work" in again.content.decode()


def test_it_answers_the_same_for_an_unknown_address(people, client, mailoutbox):
    User.objects.filter(pk=people["nurse"].pk).update(email="nina@example.org")
    known = _ask(client, "nina@example.org")
    unknown = _ask(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    strip = lambda r: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", r.content.decode())  # noqa: E731
    assert strip(known) == strip(unknown)
    assert len(mailoutbox) == 1


def test_it_limits_requests_per_address(people, client, mailoutbox):
    User.objects.filter(pk=people["nurse"].pk).update(email="nina@example.org")
    for _ in range(reset.PER_ADDRESS + 3):
        response = _ask(client, "nina@example.org")
        assert "Check your e-mail" in response.content.decode()
    assert len(mailoutbox) == reset.PER_ADDRESS
    assert AuditEvent.objects.filter(action=reset.ACTION, outcome="denied").count() == 3


def test_a_reset_clears_the_lockout(people, client, mailoutbox):
    nina = people["nurse"]
    User.objects.filter(pk=nina.pk).update(email="nina@example.org")
    for _ in range(5):
        client.post(reverse("login"), {"username": "nina", "password": "wrong"})
    assert User.objects.get(pk=nina.pk).is_locked()
    _ask(client, "nina@example.org")
    link = _link(mailoutbox[0])
    form = client.get(link, follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert not User.objects.get(pk=nina.pk).is_locked()
    login = client.post(reverse("login"), {"username": "nina", "password": NEW})
    assert login.status_code == 302


def test_bad_reset_input_answers_400(people, client, mailoutbox):
    assert client.post(reverse("password-reset"), {"email": "not-an-address"}).status_code == 400
    User.objects.filter(pk=people["nurse"].pk).update(email="nina@example.org")
    _ask(client, "nina@example.org")
    form = client.get(_link(mailoutbox[0]), follow=True)
    short = client.post(form.redirect_chain[-1][0], {"new_password1": "abc", "new_password2": "x"})
    assert short.status_code == 400
    assert User.objects.get(username="nina").check_password(PASSWORD)


def test_a_bad_password_change_answers_400(people, client):
    client.force_login(people["nurse"])
    response = client.post(
        reverse("password"),
        {"old_password": "wrong", "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 400
    assert "incorrect" in response.content.decode()
