"""No raw codes or internal references on the pages a nurse or a patient reads; the
study UID and the modality's AE title only for the technologist and radiologist,
folded away in a details element."""

from uuid import uuid4

import pytest
from django.urls import reverse

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.exams.models import Procedure
from nephro.followup import services as followup
from nephro.portal import services as portal
from tests.conftest import make_patient
from tests.front.test_labels import _VisibleText

pytestmark = pytest.mark.django_db

RAW = ["(pcn)", "patient-started", "(manual)", "(rdsr)", "(mpps)"]


def _internal(exam) -> list[str]:
    return [exam.study_instance_uid, exam.modality_ae_title, *RAW]


@pytest.fixture
def exam(make_exam, people):
    exam = make_exam(State.FOLLOW_UP)
    followup.record_checkin(Actor(user=people["patient"]), exam.pk, symptoms=["pain"])
    exam.patient.user = people["patient"]
    exam.patient.save()
    return exam


def nurse_pages(exam) -> list[str]:
    return [
        reverse("home"),
        reverse("exams:detail", args=[exam.pk]),
        reverse("exams:worklist"),
        reverse("patients:detail", args=[exam.patient_id]),
        reverse("tubes:registry"),
        reverse("tubes:due"),
        reverse("tubes:trials"),
        reverse("followup:triage"),
        reverse("reports:view", args=[exam.pk]),
    ]


def test_a_nurse_sees_no_raw_code_or_internal_reference(exam, people, login):
    assert exam.tube is not None and exam.modality_ae_title
    client = login(people["nurse"])
    for url in nurse_pages(exam):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for raw in _internal(exam):
            assert raw not in html, f"{url} shows {raw!r}"


def test_the_tube_reads_in_words(exam, people, login):
    html = login(people["nurse"]).get(reverse("exams:detail", args=[exam.pk])).content.decode()
    assert "nephrostomy (PCN)" in html


def test_a_check_in_the_patient_sent_says_so(exam, people, login):
    html = login(people["nurse"]).get(reverse("exams:detail", args=[exam.pk])).content.decode()
    assert "Sent by the patient" in html


@pytest.mark.parametrize("who", ["tech", "radiologist"])
def test_the_technologist_and_radiologist_find_the_study_uid_folded_away(exam, people, login, who):
    html = login(people[who]).get(reverse("exams:detail", args=[exam.pk])).content.decode()
    details = html[html.index("<details") : html.index("</details>")]
    assert exam.study_instance_uid in details and exam.modality_ae_title in details


@pytest.mark.parametrize(
    "source,words", [("manual", "typed in"), ("rdsr", "from the unit&#x27;s dose report")]
)
def test_the_dose_source_reads_in_words(exam, people, login, source, words):
    Procedure.objects.filter(exam=exam).update(dose_source=source)
    html = login(people["nurse"]).get(reverse("exams:detail", args=[exam.pk])).content.decode()
    assert words in html


def test_a_patient_sees_no_raw_code_or_internal_reference(exam, people, login):
    client = login(people["patient"])
    for url in [
        reverse("home"),
        reverse("portal:exam", args=[exam.pk]),
        reverse("portal:checkin", args=[exam.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        page = _VisibleText()
        page.feed(response.content.decode())
        text = " ".join(page.parts)
        for raw in [*_internal(exam), exam.state, "pcn", "PCN"]:
            assert raw not in text, f"{url} shows {raw!r}"


def test_invitations_show_their_state_in_words(people, login, mailoutbox):
    patient = make_patient(email="p@example.org")
    for _ in range(2):
        portal.invite_patient(
            Actor(user=people["nurse"]),
            patient.pk,
            email="p@example.org",
            language="en",
            submission=uuid4(),
        )
    html = login(people["nurse"]).get(reverse("portal:invite", args=[patient.pk])).content.decode()
    assert "Replaced by a newer link" in html and "Open until" in html
    assert "<td>revoked" not in html and "<td>open" not in html


def test_flag_sources_cite_the_literature_not_our_own_files(make_exam, people, login):
    exam = make_exam(
        "screened",
        screening_answers={
            "prior_contrast_reaction": "on",
            "reaction_agent": "Iohexol",
            "reaction_description": "Hives",
            "reaction_timing": "2019",
            "other_allergies": "Latex",
        },
    )
    html = login(people["nurse"]).get(reverse("exams:detail", args=[exam.pk])).content.decode()
    assert "ACR Manual on Contrast Media [ACRM]" in html
    assert "clinical.md" not in html and "DESIGN section" not in html
