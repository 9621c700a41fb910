"""Demo follow-up data (issue 3): check-ins at every urgency, open and acknowledged
alerts, a questionnaire waiting for review, a capping trial, a radiologist on duty.

Called at the end of nephro.demo.build_demo, through the real services.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from nephro.accounts.models import User
from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.followup import services
from nephro.followup.models import Alert
from nephro.tubes import services as tube_services
from nephro.tubes.models import TubeStatus


def build_followup_demo(users: dict[str, User]) -> None:
    nurse, rad = Actor(user=users["nurse"]), Actor(user=users["radiologist"])
    services.set_duty(rad, True)
    done = list(
        Exam.objects.filter(state__in=[State.COMPLETED, State.REPORTED, State.FOLLOW_UP])
        .select_related("patient")
        .order_by("pk")
    )
    answers = [
        (["breathing"], None, 45, "Short of breath since lunch"),
        (["fever", "site"], "38.6", 20, ""),
        (["tube_moved"], None, 5, "Tube came out in the shower"),
        (["urine", "pain"], None, 90, ""),
        (["blood"], None, 120, ""),
        (["rash"], None, 300, "Itchy arms"),
    ]
    now = timezone.now()
    for exam, (symptoms, temperature, minutes_ago, notes) in zip(done, answers, strict=False):
        by_phone = exam.patient.user_id is None
        checkin = services.record_checkin(
            nurse.acting_for(exam.patient.audit_name)
            if by_phone
            else Actor(user=exam.patient.user),
            exam.pk,
            symptoms=symptoms,
            temperature_c=None if temperature is None else Decimal(temperature),
            notes=notes,
            by_phone=by_phone,
        )
        Alert.objects.filter(checkin=checkin).update(raised_at=now - timedelta(minutes=minutes_ago))
    # The oldest "contact" alert has already been handled.
    handled = Alert.objects.filter(urgency="contact").order_by("raised_at").last()
    if handled is not None:
        services.acknowledge_alert(
            nurse, handled.pk, action="called", note="Advised fluids; recheck tomorrow"
        )
    # One tube on a clamp trial.
    tube = next(
        (e.tube for e in done if e.tube is not None and e.tube.status == TubeStatus.IN_PLACE),
        None,
    )
    if tube is not None:
        today = timezone.localdate()
        tube_services.start_capping_trial(
            nurse,
            tube.pk,
            started_on=today - timedelta(days=2),
            planned_end_on=today + timedelta(days=5),
        )
