"""Accounts by invitation: one-time, expiring, and a bad link changes nothing."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from nephro.accounts.models import User
from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams.services import WorkflowError
from nephro.portal import services
from nephro.portal.models import Invitation, token_hash

pytestmark = pytest.mark.django_db
GOOD = {
    "username": "newpatient",
    "password1": "kidney-tube-2024",
    "password2": "kidney-tube-2024",
    "birth_date": "1960-05-17",  # make_patient's
}


def test_it_e_mails_a_link_and_stores_only_its_hash(invite, mailoutbox):
    patient, token = invite()
    invitation = Invitation.objects.get(patient=patient)
    assert invitation.token_hash == token_hash(token) and token not in invitation.token_hash
    assert mailoutbox[0].to == ["new@example.org"]
    assert "works once" in mailoutbox[0].body
    assert AuditEvent.objects.filter(action="portal.invite", patient_ref=patient.pk).exists()


def test_it_sends_the_invitation_in_spanish(invite, mailoutbox):
    invite(language="es")
    assert mailoutbox[0].subject == "Su invitación al portal de pacientes de Nephro"
    assert "El enlace sirve una sola vez" in mailoutbox[0].body


def test_a_patient_accepts_and_sees_their_page(invite, anon):
    patient, token = invite()
    page = anon.get(f"/invite/{token}/")
    assert page.status_code == 200 and "Welcome, Given" in page.content.decode()
    response = anon.post(f"/invite/{token}/", GOOD, follow=True)
    assert response.status_code == 200
    assert "Your account is ready" in response.content.decode()
    patient.refresh_from_db()
    assert patient.user.username == "newpatient" and patient.user.role == "patient"
    assert patient.user.check_password(GOOD["password1"])
    assert Invitation.objects.get().used_at is not None


def test_a_reused_link_is_refused_with_a_clear_message(invite, anon):
    _, token = invite()
    anon.post(f"/invite/{token}/", GOOD)
    other = type(anon)()
    response = other.post(f"/invite/{token}/", {**GOOD, "username": "second"})
    assert response.status_code == 410
    assert "already used" in response.content.decode()
    assert User.objects.filter(username="second").count() == 0


def test_an_expired_link_is_refused_and_nothing_changes(invite, anon):
    patient, token = invite()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = anon.post(f"/invite/{token}/", GOOD)
    assert response.status_code == 410
    assert "expired" in response.content.decode() and "555-0100" in response.content.decode()
    patient.refresh_from_db()
    assert patient.user is None and not User.objects.filter(username="newpatient").exists()
    assert AuditEvent.objects.filter(action="portal.accept", outcome="failed").exists()


def test_a_new_invitation_cancels_the_old_link(invite, anon):
    patient, first = invite()
    _, second = invite(patient)
    assert "expired" in anon.get(f"/invite/{first}/").content.decode()
    assert anon.get(f"/invite/{second}/").status_code == 200


def test_an_unknown_link_is_refused(anon):
    response = anon.get("/invite/not-a-real-token/")
    assert response.status_code == 410 and "not valid" in response.content.decode()


def test_a_weak_password_keeps_the_link_usable(invite, anon):
    _, token = invite()
    response = anon.post(
        f"/invite/{token}/", {**GOOD, "username": "np", "password1": "12345", "password2": "12345"}
    )
    assert response.status_code == 400
    assert Invitation.objects.get().used_at is None
    assert anon.post(f"/invite/{token}/", GOOD).status_code == 302


def test_a_taken_user_name_keeps_the_link_usable(invite, anon, people):
    _, token = invite()
    response = anon.post(f"/invite/{token}/", {**GOOD, "username": "Nina"})
    assert response.status_code == 400 and "taken" in response.content.decode()
    assert Invitation.objects.get().used_at is None


def test_it_will_not_invite_a_patient_who_has_an_account(people, make_exam):
    exam = make_exam()
    with pytest.raises(WorkflowError, match="already has"):
        services.invite_patient(
            Actor(user=people["nurse"]), exam.patient_id, email="p@example.org", language="en"
        )


def test_staff_invite_from_the_page(login, people, mailoutbox):
    from tests.conftest import make_patient

    patient = make_patient(email="walk@example.org")
    client = login(people["nurse"])
    assert client.get(f"/invite/new/{patient.pk}/").status_code == 200
    response = client.post(
        f"/invite/new/{patient.pk}/", {"email": "walk@example.org", "language": "es"}
    )
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and Invitation.objects.get().language == "es"


def test_the_link_alone_does_not_make_the_account(invite, anon):
    patient, token = invite()
    response = anon.post(f"/invite/{token}/", {**GOOD, "birth_date": ""})
    assert response.status_code == 400 and "date of birth" in response.content.decode()
    patient.refresh_from_db()
    assert patient.user is None and not User.objects.filter(username="newpatient").exists()


def test_a_wrong_birth_date_counts_as_a_failed_attempt(invite, anon):
    patient, token = invite()
    response = anon.post(f"/invite/{token}/", {**GOOD, "birth_date": "1961-05-17"})
    assert response.status_code == 400
    assert "does not match" in response.content.decode()
    assert Invitation.objects.get().failed_attempts == 1
    assert AuditEvent.objects.filter(
        action="portal.accept", outcome="failed", detail__why="birth date"
    ).exists()
    assert anon.post(f"/invite/{token}/", GOOD).status_code == 302


def test_repeated_wrong_birth_dates_lock_the_invitation(invite, anon, settings):
    patient, token = invite()
    for day in range(1, settings.NEPHRO_LOCKOUT_ATTEMPTS + 1):
        anon.post(f"/invite/{token}/", {**GOOD, "birth_date": f"1970-01-{day:02d}"})
    locked = anon.post(f"/invite/{token}/", GOOD)
    assert locked.status_code == 429 and "Too many tries" in locked.content.decode()
    assert not User.objects.filter(username="newpatient").exists()
    later = timezone.now() + timedelta(minutes=settings.NEPHRO_LOCKOUT_MINUTES + 1)
    with time_machine.travel(later):
        assert anon.post(f"/invite/{token}/", GOOD).status_code == 302


def test_the_link_points_where_staff_reached_the_service(login, people, mailoutbox, settings):
    settings.NEPHRO_SITE_URL_FIXED = False
    from tests.conftest import make_patient

    patient = make_patient(email="port@example.org")
    client = login(people["nurse"])
    client.post(
        f"/invite/new/{patient.pk}/",
        {"email": "port@example.org", "language": "en"},
        HTTP_HOST="localhost:8123",
    )
    assert "http://localhost:8123/invite/" in mailoutbox[0].body


def test_a_spanish_invitation_opens_in_spanish(invite, anon):
    _, token = invite(language="es")
    page = anon.get(f"/invite/{token}/").content.decode()
    assert 'lang="es"' in page and "Bienvenido, Given" in page
