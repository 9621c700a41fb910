"""A patient can't reach another patient's anything.

Paula, signed in, tries every URL pattern in Nephro with Peter's identifiers (exam,
patient, check-in, alert, tube, trial, flag), by GET and by POST. Each answer is 403 or
404, shows nothing of Peter's, and changes nothing.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from nephro.accounts.permissions import PUBLIC
from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.followup.models import Alert, CheckIn
from nephro.screening.models import Screening
from nephro.tubes.models import CappingTrial
from tests.accounts.test_permissions import all_url_names
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def peters(people, make_exam):
    from nephro.followup import services

    make_exam(State.SCHEDULED)  # paula's own exam, so she has a record of her own
    peter = make_patient(people["other_patient"], phone="555-7777")
    peter.family_name = "Secretson"
    peter.save()
    exam = make_exam(State.COMPLETED, patient=peter)
    checkin = services.record_checkin(
        Actor(user=people["other_patient"]), exam.pk, symptoms=["fever"], notes="PRIVATE NOTE"
    )
    today = timezone.localdate()
    trial = CappingTrial.objects.create(
        tube=exam.tube, started_on=today, planned_end_on=today + timedelta(days=3)
    )
    flagged = make_exam(
        State.SCREENED, patient=peter, screening_answers={"anticoagulants": ["aspirin"]}
    )
    return {
        "pk": exam.pk,
        "patient_pk": peter.pk,
        "checkin_pk": checkin.pk,
        "alert_pk": Alert.objects.get(checkin=checkin).pk,
        "tube_pk": exam.tube_id,
        "trial_pk": trial.pk,
        "flag_pk": flagged.flags.first().pk,
        "secrets": [peter.mrn, "Secretson", exam.accession_number, "PRIVATE NOTE", "555-7777"],
    }


def _counts():
    return (
        CheckIn.objects.count(),
        Alert.objects.count(),
        Screening.objects.count(),
        CappingTrial.objects.count(),
    )


def test_paula_cannot_reach_any_of_peters_records(people, peters, client):
    client.force_login(people["patient"])
    before = _counts()
    tried = 0
    for name, pattern in all_url_names():
        keys = list(pattern.pattern.converters)
        if name in PUBLIC or not keys:
            continue
        url = reverse(name, kwargs={key: peters[key] for key in keys})
        for method in (client.get, client.post):
            response = method(url, {"symptoms": ["breathing"], "temperature": "37"})
            assert response.status_code in (403, 404), f"{name} {url}: {response.status_code}"
            body = response.content.decode(errors="replace")
            for secret in peters["secrets"]:
                assert secret not in body, f"{name} leaked {secret!r}"
            tried += 1
    assert tried >= 2 * 8, "the patient-facing URLs were all tried"
    assert _counts() == before
    assert AuditEvent.objects.filter(action="portal.not_found", username="paula").exists()


def test_the_not_found_page_is_plain_and_kind(people, peters, client):
    client.force_login(people["patient"])
    response = client.post(f"/my/exams/{peters['pk']}/check-in/", {"symptoms": ["breathing"]})
    assert response.status_code == 404
    text = response.content.decode()
    assert "It is not in your account. Nothing was changed." in text
    assert "555-0100" in text  # whom to call


def test_paula_still_reaches_her_own(people, peters, client):
    client.force_login(people["patient"])
    own = people["patient"].patient.exams.get()
    assert client.get(f"/my/exams/{own.pk}/").status_code == 200
    assert client.get("/").status_code == 200
