import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django.test import override_settings
from django.urls import reverse

from nephro.accounts.models import User
from nephro.audit.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_it_locks_an_account_after_repeated_failures(people, client):
    for _ in range(settings.NEPHRO_LOCKOUT_ATTEMPTS):
        _login(client, "nina", "wrong")
    response = _login(client, "nina", PASSWORD)
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session
    assert User.objects.get(username="nina").is_locked()
    assert AuditEvent.objects.filter(action="login", outcome="denied").exists()


def test_it_lets_an_admin_clear_a_lockout(people, client):
    nina = people["nurse"]
    for _ in range(settings.NEPHRO_LOCKOUT_ATTEMPTS):
        _login(client, "nina", "wrong")
    assert User.objects.get(pk=nina.pk).is_locked()
    client.force_login(people["admin"])
    client.post(
        reverse("accounts:edit", args=[nina.pk]),
        {"username": "nina", "role": "nurse", "is_active": "on", "unlock": "on"},
    )
    nina.refresh_from_db()
    assert not nina.is_locked()


def test_it_signs_in_with_the_right_password_and_resets_the_counter(people, client):
    _login(client, "nina", "wrong")
    assert User.objects.get(username="nina").failed_logins == 1
    response = _login(client, "nina", PASSWORD)
    assert response.status_code == 302
    assert User.objects.get(username="nina").failed_logins == 0


def test_it_refuses_demo_accounts_outside_demo_mode(people, client):
    User.objects.filter(username="nina").update(is_demo=True)
    with override_settings(DEMO=False):
        response = _login(client, "nina", PASSWORD)
    assert "only when Nephro runs in demo mode" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_expires_idle_sessions():
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert 0 < settings.SESSION_COOKIE_AGE <= 30 * 60


def test_it_hashes_passwords_with_argon2_in_production():
    import nephro.settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        assert get_hasher().algorithm == "argon2"
        user = User(username="x", role="nurse")
        user.set_password("a long passphrase")
        assert user.password.startswith("argon2")


def test_it_rejects_a_weak_password_when_an_admin_creates_an_account(people, client):
    client.force_login(people["admin"])
    response = client.post(
        reverse("accounts:create"),
        {"username": "newbie", "role": "nurse", "password": "123", "is_active": "on"},
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="newbie").exists()


def _manage(*args, env_extra):
    env = {"PATH": "/usr/bin:/bin", "NEPHRO_VAR_DIR": str(settings.VAR_DIR), **env_extra}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deploy_check_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={
            "NEPHRO_SECRET_KEY": "x" * 20 + "production-secret-from-the-environment-1234567890",
            "NEPHRO_ALLOWED_HOSTS": "nephro.example.org",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_outside_demo_mode():
    result = _manage("check", env_extra={})
    assert result.returncode != 0
    assert "NEPHRO_SECRET_KEY" in result.stderr


def test_it_refuses_a_demo_server_off_loopback():
    result = _manage("serve", "--host", "0.0.0.0", env_extra={"NEPHRO_DEMO": "true"})
    assert result.returncode != 0
    assert "loopback only" in result.stderr
