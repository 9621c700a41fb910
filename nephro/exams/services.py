"""Every write to an exam: atomic, row-locked, checked against the lifecycle, audited."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from pydicom.uid import generate_uid

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams import lifecycle, rooms
from nephro.exams.lifecycle import IllegalTransition, State
from nephro.exams.models import (
    ChecklistItem,
    ChecklistStep,
    Exam,
    Order,
    PatientClass,
    Procedure,
)
from nephro.lib import once
from nephro.lib.steps import Refused
from nephro.tubes import services as tube_services
from nephro.tubes.models import Tube, TubeStatus
from nephro.tubes.services import TubeDetails


class WorkflowError(Refused):
    """A request the workflow refuses, with a message fit to show the user."""


def _new_accession() -> str:
    # Date plus random digits: short enough for DICOM SH (16), unguessable enough that
    # accession numbers do not reveal volumes.
    return timezone.localdate().strftime("%y%m%d") + f"{secrets.randbelow(10**6):06d}"


@contextmanager
def locked_exam(exam_id: int):
    with transaction.atomic():
        yield Exam.objects.select_for_update().select_related("patient").get(pk=exam_id)


def _move(actor: Actor, exam: Exam, target: str, action: str, **detail) -> None:
    lifecycle.check(exam.state, target, held_from=exam.held_from)
    before = exam.state
    exam.state = target
    exam.save()
    record(actor, action, exam, detail={"from": before, "to": target, **detail})


def create_order(
    actor: Actor,
    *,
    patient,
    referrer,
    sides: list[str],
    tubes: dict[str, Tube | None],
    indication: str,
    clinical_question: str,
    urgency: str,
    patient_class: str = PatientClass.OUTPATIENT,
    submission=None,
) -> list[Exam]:
    """One order; one exam per side (a bilateral order makes two).

    A repeated `submission` token raises once.AlreadySubmitted(the first order).
    """
    with once.consume(Order, submission):
        order = Order.objects.create(
            submission=submission,
            patient=patient,
            referrer=referrer,
            indication=indication,
            clinical_question=clinical_question,
            urgency=urgency,
            patient_class=patient_class,
            created_by=actor.user,
        )
        record(actor, "order.create", order, detail={"sides": sides})
        return [_create_exam(actor, order, side, tubes.get(side)) for side in sides]


def _create_exam(actor: Actor, order: Order, side: str, tube: Tube | None) -> Exam:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                exam = Exam.objects.create(
                    order=order,
                    patient=order.patient,
                    side=side,
                    tube=tube,
                    accession_number=_new_accession(),
                    study_instance_uid=generate_uid(),
                )
        except IntegrityError:  # accession collision: draw again
            continue
        record(actor, "exam.create", exam, detail={"accession": exam.accession_number})
        return exam
    raise WorkflowError("could not allocate an accession number; try again")


def link_tube(
    actor: Actor, exam_id: int, *, tube_id: int | None = None, new_tube: TubeDetails | None = None
) -> Exam:
    """Link the exam to one of its patient's tubes on its side, or to a new one added to
    the registry, so the tube decision can update the right record."""
    with locked_exam(exam_id) as exam:
        if exam.state == State.CANCELLED:
            raise WorkflowError("this exam was cancelled")
        if new_tube is not None:
            tube = tube_services.register_tube(actor, exam.patient_id, new_tube)
        else:
            tube = (
                exam.patient.tubes.filter(pk=tube_id, side=exam.side)
                .exclude(status=TubeStatus.REMOVED)
                .first()
            )
        if tube is None or tube.side != exam.side:
            raise WorkflowError(f"choose one of this patient's {exam.side} tubes")
        exam.tube = tube
        exam.save(update_fields=["tube", "updated_at"])
        record(actor, "exam.tube", exam, detail={"tube": tube.pk, "new": new_tube is not None})
    return exam


def _blocking_flags(exam: Exam):
    return [f for f in exam.flags.all() if f.blocking]


def schedule(
    actor: Actor,
    exam_id: int,
    *,
    when: datetime,
    room: str,
    ae_title: str,
    allow_clash: bool = False,
) -> Exam:
    with locked_exam(exam_id) as exam:
        if _blocking_flags(exam):
            raise WorkflowError("a safety hold needs a radiologist's decision before scheduling")
        clashes = rooms.clashes(exam.pk, when=when, room=room)
        if clashes and not allow_clash:
            raise rooms.RoomClash(clashes)
        exam.scheduled_at = when
        exam.room = room
        exam.modality_ae_title = ae_title
        _move(
            actor,
            exam,
            State.SCHEDULED,
            "exam.schedule",
            when=when.isoformat(),
            room=room,
            double_booked=[e.accession_number for e in clashes],
        )
    return exam


def check_in(actor: Actor, exam_id: int, *, mrn: str, birth_date) -> Exam:
    """Arrival with two identifiers: the MRN and the date of birth must both match."""
    with locked_exam(exam_id) as exam:
        if exam.state != State.SCHEDULED:
            raise IllegalTransition("only a scheduled exam can be checked in")
        if mrn.strip() != exam.patient.mrn or birth_date != exam.patient.birth_date:
            record(actor, "exam.check_in", exam, outcome="failed", detail={"why": "identity"})
            raise WorkflowError(
                "the identifiers do not match this patient: check the wristband and ask again"
            )
        exam.arrived_at = timezone.now()
        exam.identity_confirmed_by = actor.user
        _move(actor, exam, State.ARRIVED, "exam.check_in")
    return exam


def tick_checklist(actor: Actor, exam_id: int, item: str) -> Exam:
    with locked_exam(exam_id) as exam:
        if exam.state != State.ARRIVED:
            raise IllegalTransition("the checklist is filled in after check-in, before the study")
        if item not in ChecklistItem.values:
            raise WorkflowError("unknown checklist step")
        _, created = ChecklistStep.objects.get_or_create(
            exam=exam, item=item, defaults={"done_by": actor.user, "done_at": timezone.now()}
        )
        if created:
            record(actor, "exam.checklist", exam, detail={"item": item})
        done = set(exam.checklist.values_list("item", flat=True))
        if done >= set(ChecklistItem.values):
            _move(actor, exam, State.PREPARED, "exam.prepared")
    return exam


def start(actor: Actor, exam_id: int) -> Exam:
    with locked_exam(exam_id) as exam:
        begin(actor, exam)
    return exam


def begin(actor: Actor, exam: Exam, **detail) -> None:
    """Start the study on an exam already locked (from the page, or the modality's MPPS)."""
    if exam.state == State.ARRIVED:
        raise WorkflowError("finish the five checklist steps before starting")
    if _blocking_flags(exam):
        raise WorkflowError("a safety hold needs a radiologist's decision before the study")
    exam.started_at = exam.started_at or timezone.now()
    _move(actor, exam, State.IN_PROGRESS, "exam.start", **detail)
    Procedure.objects.get_or_create(exam=exam, defaults={"performed_by": actor.user})


@dataclass(frozen=True)
class ProcedureValues:
    """What was done, doses already normalised (KAP in Gy.cm2, Ka,r in mGy, time in s)."""

    contrast_agent: str = ""
    contrast_concentration_mgi_ml: int | None = None
    contrast_volume_ml: Decimal | None = None
    views: tuple[str, ...] = ()
    fluoro_time_s: Decimal | None = None
    kap_gy_cm2: Decimal | None = None
    ka_r_mgy: Decimal | None = None
    tolerance: str = ""
    complications: str = ""


def save_procedure(actor: Actor, exam_id: int, values: ProcedureValues) -> Procedure:
    with locked_exam(exam_id) as exam:
        if exam.state not in (State.IN_PROGRESS, State.COMPLETED):
            raise IllegalTransition("the procedure is recorded once the study has started")
        procedure, _ = Procedure.objects.get_or_create(
            exam=exam, defaults={"performed_by": actor.user}
        )
        fields = {**vars(values), "views": list(values.views)}
        changed = sorted(
            name for name, value in fields.items() if getattr(procedure, name) != value
        )
        for name, value in fields.items():
            setattr(procedure, name, value)
        procedure.performed_by = procedure.performed_by or actor.user
        procedure.dose_source = "manual"
        procedure.save()
        record(actor, "procedure.save", procedure, detail={"fields": changed})
    return procedure


def complete(actor: Actor, exam_id: int) -> Exam:
    with locked_exam(exam_id) as exam:
        procedure = getattr(exam, "procedure", None)
        if procedure is None or not procedure.contrast_agent or not procedure.views:
            raise WorkflowError("record the contrast and the views taken before completing")
        exam.completed_at = timezone.now()
        _move(actor, exam, State.COMPLETED, "exam.complete")
    return exam


def hold(actor: Actor, exam_id: int, reason: str) -> Exam:
    with locked_exam(exam_id) as exam:
        if not reason.strip():
            raise WorkflowError("a hold needs a reason")
        lifecycle.check(exam.state, State.ON_HOLD)
        exam.held_from = exam.state
        exam.hold_reason = reason
        _move(actor, exam, State.ON_HOLD, "exam.hold", reason=reason)
    return exam


def resume(actor: Actor, exam_id: int, reason: str) -> Exam:
    with locked_exam(exam_id) as exam:
        if exam.state != State.ON_HOLD:
            raise IllegalTransition("only a held exam can be resumed")
        if not reason.strip():
            raise WorkflowError("a decision needs a reason")
        if _blocking_flags(exam):
            raise WorkflowError("decide every safety hold flag first")
        target = exam.held_from
        _move(actor, exam, target, "exam.resume", reason=reason)
        exam.held_from = ""
        exam.save()
    return exam


def cancel(actor: Actor, exam_id: int, reason: str) -> Exam:
    with locked_exam(exam_id) as exam:
        if not reason.strip():
            raise WorkflowError("a cancellation needs a reason")
        exam.cancel_reason = reason
        _move(actor, exam, State.CANCELLED, "exam.cancel", reason=reason)
    return exam


def close(actor: Actor, exam_id: int) -> Exam:
    with locked_exam(exam_id) as exam:
        _move(actor, exam, State.CLOSED, "exam.close")
    return exam


def advance(actor: Actor, exam: Exam, target: str, action: str, **detail) -> None:
    """For other apps' services that already hold the exam's lock."""
    _move(actor, exam, target, action, **detail)
