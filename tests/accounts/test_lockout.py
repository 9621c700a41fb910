"""The sign-in lockout: counted in the database before the password is checked, so
parallel guesses cannot outrun it, and one message for every refusal."""

import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

import nephro.settings as production
from nephro.accounts.models import User
from nephro.audit.models import AuditEvent
from tests.conftest import PASSWORD

LIMIT = settings.NEPHRO_LOCKOUT_ATTEMPTS


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def _parallel_guesses(username: str, count: int) -> list[int]:
    """`count` sign-ins with wrong passwords at once, each from its own thread and
    database connection; returns their status codes."""
    start = threading.Barrier(count)
    codes: list[int] = []

    def guess(n: int) -> None:
        try:
            client = Client()
            start.wait()
            codes.append(_login(client, username, f"guess-{n}").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


@pytest.mark.django_db(transaction=True)
def test_it_counts_parallel_guesses_atomically(people):
    # The production hasher, so each password check takes as long as it does for real.
    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        nina = User.objects.get(username="nina")
        nina.set_password(PASSWORD)
        nina.save()
        codes = _parallel_guesses("nina", 8) + _parallel_guesses("nina", 8)
    checked = AuditEvent.objects.filter(action="login", outcome="failed").count()
    assert checked == LIMIT, f"{checked} passwords were tried, the limit is {LIMIT}"
    assert len(codes) == 16 and set(codes) == {400}
    assert User.objects.get(username="nina").is_locked()


pytestmark = pytest.mark.django_db


def _message(response) -> str:
    return response.context["form"].non_field_errors()[0]


def test_it_gives_one_message_for_unknown_locked_and_wrong(people, client):
    wrong = _message(_login(client, "nina", "wrong"))
    unknown = _message(_login(client, "nobody-here", "wrong"))
    for _ in range(LIMIT):
        _login(client, "rita", "wrong")
    locked = _login(client, "rita", PASSWORD)
    assert "_auth_user_id" not in client.session
    assert _message(locked) == unknown == wrong


def test_it_refuses_the_right_password_while_locked(people, client):
    for _ in range(LIMIT):
        _login(client, "nina", "wrong")
    assert _login(client, "nina", PASSWORD).status_code == 400
    assert AuditEvent.objects.filter(
        action="login", outcome="denied", detail__why="locked"
    ).exists()


def test_it_answers_a_failed_sign_in_with_400(people, client):
    response = _login(client, "nina", "wrong")
    assert response.status_code == 400
    assert "correct" in response.content.decode()
