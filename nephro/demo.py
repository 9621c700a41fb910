"""Demo data: one account per role and about 20 synthetic patients with exams in every
state, built through the real services so the audit trail and flags are genuine.

Only for demo mode: the accounts share a published password.
"""

from __future__ import annotations

import random
import tempfile
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import DEMO, Actor
from nephro.exams import services as exams
from nephro.exams.forms import ProcedureForm
from nephro.exams.lifecycle import HAPPY_PATH, State
from nephro.exams.models import ChecklistItem, Exam, Indication, PatientClass
from nephro.patients.models import Patient
from nephro.reports import services as reports
from nephro.reports.forms import FindingsForm
from nephro.screening import services as screening
from nephro.screening.forms import ScreeningForm
from nephro.screening.models import Decision
from nephro.tubes.models import Tube

DEMO_PASSWORD = "nephro-demo"
ACCOUNTS = [
    ("referrer", Role.REFERRER, "Ada", "Urologist"),
    ("nurse", Role.NURSE, "Nia", "Nurse"),
    ("tech", Role.TECHNOLOGIST, "Theo", "Technologist"),
    ("radiologist", Role.RADIOLOGIST, "Rosa", "Radiologist"),
    ("patient", Role.PATIENT, "Pat", "Example"),
    ("admin", Role.ADMIN, "Alex", "Admin"),
]
FAMILY = [
    "Garcia",
    "Okafor",
    "Nguyen",
    "Schmidt",
    "Rossi",
    "Khan",
    "Silva",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Murphy",
    "Dubois",
    "Jensen",
    "Novak",
    "Costa",
    "Ivanova",
    "Mendes",
    "Larsen",
    "Moreau",
    "Petrov",
]
GIVEN_F = ["Maria", "Amara", "Linh", "Greta", "Giulia", "Ayesha", "Ana", "Zofia", "Leila", "Yuki"]
GIVEN_M = ["Jose", "Chidi", "Minh", "Lukas", "Marco", "Imran", "Pedro", "Jan", "Omar", "Kenji"]

# The state each demo exam is walked to, in order: every state at least once.
TARGETS = [
    State.ORDERED,
    State.ORDERED,
    State.SCREENED,
    State.SCHEDULED,
    State.SCHEDULED,
    State.SCHEDULED,
    State.ARRIVED,
    State.PREPARED,
    State.IN_PROGRESS,
    State.COMPLETED,
    State.COMPLETED,
    State.REPORTED,
    State.REPORTED,
    State.FOLLOW_UP,
    State.FOLLOW_UP,
    State.CLOSED,
    State.ON_HOLD,
    State.ON_HOLD,
    State.CANCELLED,
    State.SCHEDULED,
]
# Patients who do not come as outpatients, by their place in TARGETS: an inpatient
# brought from the ward (arrived today), one sent from the emergency department (ready in
# the room today) and an inpatient whose study is under way; the exam page and the FHIR
# Encounter (IMP, EMER) show the difference.
PATIENT_CLASSES = {
    6: PatientClass.INPATIENT,
    7: PatientClass.EMERGENCY,
    8: PatientClass.INPATIENT,
}


def _accounts() -> dict[str, User]:
    users = {}
    for username, role, first, last in ACCOUNTS:
        user, _ = User.objects.get_or_create(
            username=username, defaults={"role": role, "first_name": first, "last_name": last}
        )
        user.role, user.is_demo, user.is_active = role, True, True
        user.set_password(DEMO_PASSWORD)
        user.save()
        users[username] = user
    return users


def _screen(req, exam, *, hold: str = ""):
    data = {"pregnancy": "not_applicable", "anticoagulants": [], "other_allergies": ""}
    if exam.patient.sex == "F":
        data["pregnancy"] = "attested_not"
        data["pregnancy_method"] = "Patient attests: on contraception"
    if hold == "pregnancy":
        data["pregnancy"], data["pregnancy_method"] = "possible", "Last period late"
    if hold == "fever":
        data["fever_or_infection"] = "on"
    if exam.pk % 3 == 0:
        data["anticoagulants"] = ["aspirin"]
    form = ScreeningForm(data)
    assert form.is_valid(), form.errors
    screening.save_screening(req, exam.pk, form.answers())


def _walk(users, exam, target: str, when: datetime, rng: random.Random):
    nurse, tech, rad = (Actor(user=users[n]) for n in ("nurse", "tech", "radiologist"))
    if target == State.ON_HOLD:
        _screen(nurse, exam, hold="pregnancy" if exam.patient.sex == "F" else "fever")
        return
    if target == State.CANCELLED:
        exams.cancel(nurse, exam.pk, "Patient declined the study")
        return
    goal = HAPPY_PATH.index(target)
    if goal >= 1:
        _screen(nurse, exam)
    if goal >= 2:
        # Demo bookings may overlap; the rooms page marks them as clashes.
        exams.schedule(
            nurse, exam.pk, when=when, room="Fluoro 1", ae_title="FLUORO1", allow_clash=True
        )
    if goal >= 3:
        exams.check_in(tech, exam.pk, mrn=exam.patient.mrn, birth_date=exam.patient.birth_date)
    if goal >= 4:
        for item in ChecklistItem.values:
            exams.tick_checklist(tech, exam.pk, item)
    if goal >= 5:
        exams.start(rad, exam.pk)
        _images(exam, "patent" if exam.pk % 4 != 0 else "obstructed_upj")
    if goal >= 6:
        kar = Decimal(rng.choice([4, 9, 15, 28, 3200]))
        form = ProcedureForm(
            {
                "contrast_agent": "Iopamidol 300",
                "contrast_concentration_mgi_ml": 300,
                "contrast_volume_ml": rng.choice([8, 10, 15]),
                "views": ["scout", "ap", "lpo", "delayed"],
                "fluoro_time_s": rng.choice([42, 65, 90]),
                "kap_value": Decimal("1.8"),
                "kap_unit": "Gy.cm2",
                "ka_r_value": kar,
                "ka_r_unit": "mGy",
                "tolerance": "mild",
            },
            instance=exam.procedure,
        )
        assert form.is_valid(), form.errors
        exams.save_procedure(rad, exam.pk, form.values())
        exams.complete(rad, exam.pk)
    if goal >= 7:
        drains = exam.pk % 4 != 0
        form = FindingsForm(
            {
                "tube_position": "pelvis",
                "tube_patency": "patent",
                "hydronephrosis": 1 if drains else 3,
                "upj_passage": "free" if drains else "none",
                "ureter_passage": "free" if drains else "not_seen",
                "bladder": "immediate" if drains else "none",
                "obstruction_level": "" if drains else "upj",
                "obstruction_cause": "" if drains else "stone",
            }
        )
        assert form.is_valid(), form.errors
        reports.save_findings(rad, exam.pk, form.cleaned_data)
        reports.sign(rad, exam.pk, final=True)
    if goal >= 8:
        exam.refresh_from_db()
        drains = exam.findings.bladder != "none"
        reports.record_disposition(
            rad,
            exam.pk,
            decision="remove" if drains else "drain",
            reason="Free drainage to the bladder" if drains else "Obstruction persists",
        )
    if goal >= 9:
        exams.close(nurse, exam.pk)


def _images(exam, scenario: str) -> None:
    """Synthetic fluoroscopy from the phantom, stored as if the demo unit FLUORO1 sent it."""
    from nephro.analysis import generate_case
    from nephro.dicom.ingest import import_part10
    from nephro.drainage.services import request_analysis

    with tempfile.TemporaryDirectory() as folder:
        generate_case(
            scenario,
            exam.pk,
            Path(folder),
            size=256,
            max_run_frames=26,
            layout="multiframe",
            syntax="explicit",
            photometric="MONOCHROME2",
            side=exam.side,
            patient_id=exam.patient.mrn,
            patient_name=exam.patient.dicom_name,
            accession_number=exam.accession_number,
            study_instance_uid=exam.study_instance_uid,
        )
        for path in sorted(Path(folder).rglob("*.dcm")):
            with path.open("rb") as handle:
                import_part10(handle, calling_ae="FLUORO1")
    # The demo runs the analysis at once instead of waiting for more images to settle.
    request_analysis(DEMO, exam, delay_s=0)


@transaction.atomic
def build_demo(seed: int = 7) -> dict[str, int]:
    if not settings.DEMO:
        raise RuntimeError("demo data is only created in demo mode (NEPHRO_DEMO=true)")
    rng = random.Random(seed)
    users = _accounts()
    if Patient.objects.filter(mrn__startswith="DEMO").exists():
        return {"patients": Patient.objects.filter(mrn__startswith="DEMO").count(), "new": 0}
    today = timezone.localdate()
    referrer = Actor(user=users["referrer"])
    for i, target in enumerate(TARGETS):
        female = i % 2 == 0
        patient = Patient.objects.create(
            mrn=f"DEMO{1001 + i}",
            family_name=FAMILY[i],
            given_name=(GIVEN_F if female else GIVEN_M)[i % 10],
            birth_date=date(1950 + rng.randint(0, 50), rng.randint(1, 12), rng.randint(1, 28)),
            sex="F" if female else "M",
            phone=f"555-01{i:02d}",
            email=f"patient{i}@example.org",
            user=users["patient"] if i == 3 else None,
        )
        side = rng.choice(["left", "right"])
        placed = today - timedelta(days=rng.randint(20, 120))
        # Some tubes due soon, some overdue, the rest later (the registry list shows them).
        due = today + timedelta(days=[-9, -2, 5, 12, 40, 70][i % 6])
        tube = Tube.objects.create(
            patient=patient,
            side=side,
            size_fr=rng.choice([8, 10, 12]),
            placed_on=placed,
            exchange_due_on=due,
        )
        day = today + timedelta(days=(0 if i % 3 == 0 else rng.randint(-10, 10)))
        when = timezone.make_aware(datetime.combine(day, time(8 + i % 9, 0 if i % 2 else 30)))
        if target in (State.SCHEDULED, State.ARRIVED, State.PREPARED):
            when = timezone.make_aware(datetime.combine(today, time(8 + i % 9, 30)))
        exam = exams.create_order(
            referrer,
            patient=patient,
            referrer=users["referrer"],
            sides=[side],
            tubes={side: tube},
            indication=rng.choice(Indication.values),
            clinical_question="Does the kidney drain to the bladder? Can the tube come out?",
            urgency="routine",
            patient_class=PATIENT_CLASSES.get(i, PatientClass.OUTPATIENT),
        )[0]
        _walk(users, exam, target, when, rng)
    # One hold already decided by a radiologist, so both sides of the hold path show.
    held = Patient.objects.get(mrn="DEMO1017").exams.get()
    flag = held.flags.filter(active=True, severity="hold").first()
    if flag is not None:
        screening.decide_flag(
            Actor(user=users["radiologist"]),
            flag.pk,
            decision=Decision.PROCEED,
            reason="Urgent exam: waiver documented by the directing physician",
        )
    from nephro.followup.demo import build_followup_demo  # issue 3: check-ins, alerts, trial

    build_followup_demo(users)
    _patient_questionnaire(users)
    # Thumbnails, dose reports and drainage analyses: what the worker would do next.
    from nephro.jobs.queue import run_pending

    run_pending()
    return {"patients": len(TARGETS), "new": len(TARGETS)}


def _patient_questionnaire(users: dict[str, User]) -> None:
    """A patient's own questionnaire waiting for a nurse."""
    from nephro.portal.forms import QuestionnaireForm
    from nephro.screening.models import Screening, Source

    waiting = Exam.objects.filter(state=State.ORDERED).select_related("patient").first()
    if waiting is None or Screening.objects.filter(exam=waiting).exists():
        return
    form = QuestionnaireForm(
        {"anticoagulants": ["aspirin"], "other_allergies": "Penicillin"},
        instance=Screening(exam=waiting),
    )
    if form.is_valid():
        screening.save_screening(
            Actor(user=waiting.patient.user or users["nurse"]),
            waiting.pk,
            form.answers(),
            source=Source.PATIENT,
        )
