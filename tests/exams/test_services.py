"""The workflow services: every step, the hold path, and refusals that change nothing."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams import services
from nephro.exams.lifecycle import IllegalTransition, State
from nephro.exams.services import WorkflowError
from nephro.lib import once
from nephro.reports import services as reports
from nephro.reports.models import Report, ReportLocked
from nephro.screening import services as screening
from nephro.screening.models import Decision
from nephro.tubes.models import TubeStatus
from tests.conftest import findings_form, make_patient, staff_answers

pytestmark = pytest.mark.django_db


def test_it_walks_an_exam_from_order_to_closed_with_an_audit_event_per_step(make_exam):
    exam = make_exam(State.CLOSED)
    actions = list(
        AuditEvent.objects.filter(object_type="Exam", object_id=str(exam.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    for action in [
        "exam.create",
        "exam.screen",
        "exam.schedule",
        "exam.check_in",
        "exam.prepared",
        "exam.start",
        "exam.complete",
        "exam.reported",
        "exam.follow_up",
        "exam.close",
    ]:
        assert action in actions
    assert exam.tube.status == TubeStatus.REMOVED
    assert exam.tube.removed_on == timezone.localdate()


def test_it_makes_one_exam_per_side_for_a_bilateral_order(people):
    patient = make_patient()
    exams = services.create_order(
        Actor(user=people["referrer"]),
        patient=patient,
        referrer=people["referrer"],
        sides=["left", "right"],
        tubes={},
        indication="routine",
        clinical_question="Check",
        urgency="routine",
    )
    assert sorted(e.side for e in exams) == ["left", "right"]
    assert len({e.accession_number for e in exams}) == 2
    assert len({e.study_instance_uid for e in exams}) == 2


def test_it_recognises_a_second_submit_of_the_same_order(people):
    patient = make_patient()
    kwargs = dict(
        patient=patient,
        referrer=people["referrer"],
        sides=["left"],
        tubes={},
        indication="routine",
        clinical_question="Check",
        urgency="routine",
        submission="6f1c1a52-8d8e-4c51-9a8a-3d3f3f0e2a11",
    )
    services.create_order(Actor(user=people["referrer"]), **kwargs)
    with pytest.raises(once.AlreadySubmitted):
        services.create_order(Actor(user=people["referrer"]), **kwargs)
    assert patient.exams.count() == 1


def test_it_holds_a_possibly_pregnant_patient_until_a_radiologist_decides(people, make_exam):
    patient = make_patient(sex="F", born=date.today() - timedelta(days=30 * 365))
    exam = make_exam(State.ORDERED, patient=patient)
    nurse, rad = Actor(user=people["nurse"]), Actor(user=people["radiologist"])
    screening.save_screening(nurse, exam.pk, staff_answers(pregnancy="possible"))
    exam.refresh_from_db()
    assert exam.state == State.ON_HOLD and exam.held_from == State.SCREENED
    flag = exam.flags.get(code="PREGNANCY")
    assert flag.blocking
    with pytest.raises((IllegalTransition, WorkflowError)):  # cannot schedule while held
        services.schedule(nurse, exam.pk, when=timezone.now(), room="1", ae_title="FLUORO1")
    screening.decide_flag(
        rad, flag.pk, decision=Decision.PROCEED, reason="Negative urine test today"
    )
    exam.refresh_from_db()
    assert exam.state == State.SCREENED
    services.schedule(nurse, exam.pk, when=timezone.now(), room="1", ae_title="FLUORO1")


def test_it_does_not_flag_pregnancy_outside_child_bearing_age(people, make_exam):
    patient = make_patient(sex="F", born=date(1940, 1, 1))
    exam = make_exam(State.ORDERED, patient=patient)
    screening.save_screening(
        Actor(user=people["nurse"]), exam.pk, staff_answers(pregnancy="unknown")
    )
    exam.refresh_from_db()
    assert exam.state == State.SCREENED
    assert not exam.flags.filter(code="PREGNANCY").exists()


def test_it_defers_a_feverish_patient_and_can_cancel_on_decision(people, make_exam):
    exam = make_exam(State.ORDERED)
    screening.save_screening(
        Actor(user=people["nurse"]), exam.pk, staff_answers(fever_or_infection="on")
    )
    flag = exam.flags.get(code="FEVER")
    screening.decide_flag(
        Actor(user=people["radiologist"]),
        flag.pk,
        decision=Decision.CANCEL,
        reason="Treat the infection first",
    )
    exam.refresh_from_db()
    assert exam.state == State.CANCELLED
    assert "Treat the infection" in exam.cancel_reason


def test_it_blocks_the_start_while_a_hold_flag_is_undecided(people, make_exam):
    exam = make_exam(State.PREPARED)
    flag = exam.flags.create(code="FEVER", severity="hold", text="Fever", source="test")
    with pytest.raises(WorkflowError):
        services.start(Actor(user=people["tech"]), exam.pk)
    flag.decision = Decision.PROCEED
    flag.save()
    services.start(Actor(user=people["tech"]), exam.pk)


def test_it_refuses_check_in_with_identifiers_that_do_not_match(people, make_exam):
    exam = make_exam(State.SCHEDULED)
    with pytest.raises(WorkflowError):
        services.check_in(
            Actor(user=people["tech"]),
            exam.pk,
            mrn=exam.patient.mrn,
            birth_date=exam.patient.birth_date + timedelta(days=1),
        )
    exam.refresh_from_db()
    assert exam.state == State.SCHEDULED and exam.arrived_at is None


def test_it_refuses_to_start_before_the_checklist_is_done(people, make_exam):
    exam = make_exam(State.ARRIVED)
    services.tick_checklist(Actor(user=people["tech"]), exam.pk, "history")
    with pytest.raises(WorkflowError):
        services.start(Actor(user=people["radiologist"]), exam.pk)
    exam.refresh_from_db()
    assert exam.state == State.ARRIVED and exam.checklist.count() == 1


def test_it_records_each_checklist_tick_once_with_who_and_when(people, make_exam):
    exam = make_exam(State.ARRIVED)
    tech = Actor(user=people["tech"])
    services.tick_checklist(tech, exam.pk, "metal")
    services.tick_checklist(tech, exam.pk, "metal")
    step = exam.checklist.get()
    assert step.done_by == people["tech"] and step.done_at is not None


def test_it_refuses_illegal_transitions_and_changes_nothing(people, make_exam):
    exam = make_exam(State.SCREENED)
    before = exam.updated_at
    with pytest.raises(IllegalTransition):
        services.close(Actor(user=people["nurse"]), exam.pk)
    exam.refresh_from_db()
    assert exam.state == State.SCREENED and exam.updated_at == before


def test_it_requires_contrast_and_views_before_completing(people, make_exam):
    exam = make_exam(State.IN_PROGRESS)
    with pytest.raises(WorkflowError):
        services.complete(Actor(user=people["tech"]), exam.pk)


def test_it_keeps_a_final_report_immutable_and_takes_addenda(people, make_exam):
    exam = make_exam(State.REPORTED)
    rad = Actor(user=people["radiologist"])
    report = Report.objects.get(exam=exam)
    text = report.impression
    with pytest.raises(WorkflowError):
        reports.save_report_text(rad, exam.pk, technique="x", findings_text="y", impression="z")
    with pytest.raises(WorkflowError):
        reports.save_findings(rad, exam.pk, findings_form(bladder="none", bladder_time_min=""))
    report.impression = "tampered"
    with pytest.raises(ReportLocked):
        report.save()
    report.refresh_from_db()
    assert report.impression == text
    reports.add_addendum(rad, exam.pk, "Fragment seen on review.")
    assert report.addenda.get().text == "Fragment seen on review."


def test_it_generates_the_narrative_from_the_findings(people, make_exam):
    exam = make_exam(State.COMPLETED)
    rad = Actor(user=people["radiologist"])
    reports.save_findings(
        rad,
        exam.pk,
        findings_form(
            bladder="none",
            bladder_time_min="",
            upj_passage="none",
            ureter_passage="not_seen",
            obstruction_level="upj",
            obstruction_cause="stone",
            hydronephrosis="3",
        ),
    )
    report = Report.objects.get(exam=exam)
    assert "Obstruction at the ureteropelvic junction, stone or fragment" in report.findings_text
    assert "no adequate drainage" in report.impression
    assert "Iopamidol 300" in report.technique and "10" in report.technique


def test_it_signs_preliminary_then_final(people, make_exam):
    exam = make_exam(State.COMPLETED)
    rad = Actor(user=people["radiologist"])
    reports.save_findings(rad, exam.pk, findings_form())
    reports.sign(rad, exam.pk, final=False)
    exam.refresh_from_db()
    assert exam.state == State.REPORTED and exam.report.status == "preliminary"
    with pytest.raises(WorkflowError):
        reports.sign(rad, exam.pk, final=False)
    reports.sign(rad, exam.pk, final=True)
    exam.report.refresh_from_db()
    assert exam.report.status == "final" and exam.report.signed_by == people["radiologist"]


@pytest.mark.parametrize(
    "decision,status",
    [
        ("remove", "removed"),
        ("cap", "capped"),
        ("exchange", "in_place"),
        ("drain", "in_place"),
        ("convert", "in_place"),
        ("reposition", "in_place"),
    ],
)
def test_it_makes_the_tube_record_follow_the_disposition(people, make_exam, decision, status):
    exam = make_exam(State.REPORTED)
    reports.record_disposition(
        Actor(user=people["radiologist"]), exam.pk, decision=decision, reason="Per findings"
    )
    exam.refresh_from_db()
    tube = exam.tube
    assert exam.state == State.FOLLOW_UP and tube.status == status
    if decision == "cap":
        assert tube.capping_trials.get().outcome == "ongoing"
    if decision in ("exchange", "convert"):
        assert tube.last_exchange_on == timezone.localdate()
        assert tube.exchange_due_on == timezone.localdate() + timedelta(days=91)
    if decision == "convert":
        assert tube.kind == "nephroureteral"
    with pytest.raises(WorkflowError):  # recorded once
        reports.record_disposition(
            Actor(user=people["radiologist"]), exam.pk, decision="remove", reason="again"
        )


def test_it_normalises_dose_units_and_flags_high_air_kerma(people, make_exam):
    from nephro.exams.forms import ProcedureForm

    exam = make_exam(State.IN_PROGRESS)
    form = ProcedureForm(
        {
            "contrast_agent": "Iohexol",
            "views": ["ap"],
            "kap_value": "25",
            "kap_unit": "dGy.cm2",
            "ka_r_value": "3.2",
            "ka_r_unit": "Gy",
        },
        instance=exam.procedure,
    )
    assert form.is_valid(), form.errors
    procedure = services.save_procedure(Actor(user=people["tech"]), exam.pk, form.values())
    procedure.refresh_from_db()
    assert procedure.kap_gy_cm2 == Decimal("2.5")
    assert procedure.ka_r_mgy == Decimal("3200")
