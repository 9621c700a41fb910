"""Personas and builders shared by the suite (healthchecks' BaseTestCase, as fixtures).

Every role has a named user; `make_exam(state=...)` walks a fresh exam to any state
through the real services, so tests start where they need to.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from uuid import uuid4

import pytest
from django.utils import timezone

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.exams import services as exams
from nephro.exams.forms import ProcedureForm
from nephro.exams.lifecycle import HAPPY_PATH, State
from nephro.exams.models import ChecklistItem
from nephro.patients.models import Patient
from nephro.reports import services as reports
from nephro.reports.forms import FindingsForm
from nephro.screening import services as screening
from nephro.screening.forms import ScreeningForm
from nephro.tubes.models import Tube

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


def make_user(username: str, role: str, **extra) -> User:
    user = User(username=username, role=role, first_name=username.title(), **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    """Each test keeps its analysis pictures (``var/analysis/<exam>/<analysis>.png``) in a
    folder of its own: tests running side by side number their exams and analyses alike,
    and one read a picture while another rewrote it (a flaky
    ``test_a_correction_keeps_both_versions_and_is_audited`` under ``-n 2``)."""
    settings.VAR_DIR = tmp_path


@pytest.fixture
def people(db):
    """alice the referrer, bob an unrelated referrer, and one of each other role."""
    return {
        "referrer": make_user("alice", Role.REFERRER),
        "other_referrer": make_user("bob", Role.REFERRER),
        "nurse": make_user("nina", Role.NURSE),
        "tech": make_user("tom", Role.TECHNOLOGIST),
        "radiologist": make_user("rita", Role.RADIOLOGIST),
        "admin": make_user("adam", Role.ADMIN),
        "patient": make_user("paula", Role.PATIENT),
        "other_patient": make_user("peter", Role.PATIENT),
    }


def make_patient(
    user: User | None = None, *, sex: str = "M", born: date | None = None, **extra
) -> Patient:
    n = next(_counter)
    names = {"mrn": f"MRN{n:05d}", "family_name": f"Family{n}", "given_name": "Given"}
    return Patient.objects.create(
        **{**names, **extra}, birth_date=born or date(1960, 5, 17), sex=sex, user=user
    )


def staff_answers(**answers) -> dict:
    """Staff screening answers as the services take them, checked by the staff form."""
    data = {"pregnancy": "not_applicable", "anticoagulants": [], **answers}
    form = ScreeningForm(data)
    assert form.is_valid(), form.errors
    return form.answers()


@pytest.fixture
def make_exam(people):
    def build(
        state: str = State.ORDERED,
        *,
        patient: Patient | None = None,
        referrer: User | None = None,
        screening_answers: dict | None = None,
    ):
        if patient is None:
            # paula's own record the first time; fresh anonymous patients after that.
            linked = Patient.objects.filter(user=people["patient"]).exists()
            patient = make_patient(None if linked else people["patient"])
        tube = Tube.objects.create(
            patient=patient,
            side="left",
            size_fr=10,
            placed_on=timezone.localdate() - timedelta(days=30),
            exchange_due_on=timezone.localdate() + timedelta(days=60),
        )
        ref = Actor(user=referrer or people["referrer"])
        exam = exams.create_order(
            ref,
            patient=patient,
            referrer=ref.user,
            sides=["left"],
            tubes={"left": tube},
            indication="pre_removal",
            clinical_question="Can the tube come out?",
            urgency="routine",
        )[0]
        nurse, tech, rad = (Actor(user=people[k]) for k in ("nurse", "tech", "radiologist"))
        goal = HAPPY_PATH.index(state) if state in HAPPY_PATH else 1
        if goal >= 1:
            screening.save_screening(nurse, exam.pk, staff_answers(**(screening_answers or {})))
        if goal >= 2:
            when = timezone.make_aware(datetime.combine(timezone.localdate(), time(10, 0)))
            # Every test exam takes the same slot on purpose (tests/exams/test_rooms.py
            # covers the clash check).
            exams.schedule(
                nurse, exam.pk, when=when, room="Fluoro 1", ae_title="FLUORO1", allow_clash=True
            )
        if goal >= 3:
            exams.check_in(tech, exam.pk, mrn=patient.mrn, birth_date=patient.birth_date)
        if goal >= 4:
            for item in ChecklistItem.values:
                exams.tick_checklist(tech, exam.pk, item)
        if goal >= 5:
            exams.start(rad, exam.pk)
        if goal >= 6:
            exam.refresh_from_db()
            form = ProcedureForm(
                {
                    "contrast_agent": "Iopamidol 300",
                    "contrast_volume_ml": "10",
                    "views": ["scout", "ap", "delayed"],
                    "fluoro_time_s": "60",
                    "kap_value": "1.5",
                    "kap_unit": "Gy.cm2",
                    "ka_r_value": "12",
                    "ka_r_unit": "mGy",
                    "tolerance": "mild",
                },
                instance=exam.procedure,
            )
            assert form.is_valid(), form.errors
            exams.save_procedure(rad, exam.pk, form.values())
            exams.complete(rad, exam.pk)
        if goal >= 7:
            reports.save_findings(rad, exam.pk, findings_form())
            reports.sign(rad, exam.pk, final=True)
        if goal >= 8:
            reports.record_disposition(rad, exam.pk, decision="remove", reason="Drains freely")
        if goal >= 9:
            exams.close(nurse, exam.pk)
        if state == State.CANCELLED:
            exams.cancel(nurse, exam.pk, "Patient declined")
        if state == State.ON_HOLD:
            exams.hold(nurse, exam.pk, "Needs a radiologist's look")
        exam.refresh_from_db()
        assert exam.state == state
        return exam

    return build


def order_form(**overrides) -> dict:
    """The values of a valid order form for the left kidney (exams.forms.OrderForm),
    with a fresh one-time token."""
    data = {
        "side": "left",
        "indication": "routine",
        "clinical_question": "Patent?",
        "urgency": "routine",
        "patient_class": "outpatient",
        "submission": str(uuid4()),
    }
    return data | overrides


def findings_form(**overrides) -> dict:
    """The values of a valid FindingsForm (what reports.save_findings takes)."""
    data = {
        "tube_position": "pelvis",
        "tube_patency": "patent",
        "hydronephrosis": "1",
        "upj_passage": "free",
        "ureter_passage": "free",
        "bladder": "immediate",
        "bladder_time_min": "2",
        **overrides,
    }
    form = FindingsForm(data)
    assert form.is_valid(), form.errors
    return form.cleaned_data


@pytest.fixture
def login(client):
    def as_user(user: User):
        client.force_login(user)
        return client

    return as_user
