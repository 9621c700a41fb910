"""Recording screening answers, raising flags from the rules, and radiologist decisions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams import services as exam_services
from nephro.exams.lifecycle import HOLDABLE, State
from nephro.exams.services import WorkflowError, locked_exam
from nephro.patients.models import AllergyKind
from nephro.patients.services import note_allergy
from nephro.screening.models import ANSWER_FIELDS, Decision, Flag, Screening, Source
from nephro.screening.rules import evaluate


def _sync_flags(actor: Actor, exam, screening: Screening) -> list[Flag]:
    """Raise flags for rules that fire; retire those that no longer do. Decisions stay."""
    fired = {rule.code: rule for rule in evaluate(screening, timezone.localdate())}
    active = {flag.code: flag for flag in exam.flags.filter(active=True)}
    for code, flag in active.items():
        if code not in fired:
            flag.active = False
            flag.save(update_fields=["active"])
            record(actor, "flag.retire", flag, detail={"code": code})
    for code, rule in fired.items():
        if code not in active:
            flag = Flag.objects.create(
                exam=exam,
                code=code,
                severity=rule.severity,
                text=rule.text,
                source=rule.source,
                requires_decision=rule.requires_decision,
            )
            record(actor, "flag.raise", flag, detail={"code": code, "severity": rule.severity})
    return list(exam.flags.filter(active=True))


def _keep_allergies(actor: Actor, screening: Screening) -> None:
    """What screening learnt about allergies stays on the patient, for every exam."""
    patient_id = screening.exam.patient_id
    if screening.prior_contrast_reaction:
        note_allergy(
            actor,
            patient_id,
            kind=AllergyKind.CONTRAST,
            agent=screening.reaction_agent,
            reaction=screening.reaction_description,
            timing=screening.reaction_timing,
        )
    note_allergy(actor, patient_id, kind=AllergyKind.OTHER, agent=screening.other_allergies)


def _apply(screening: Screening, answers: Mapping[str, Any]) -> list[str]:
    """Set the answers on the screening; return the names whose value changed."""
    unknown = set(answers).difference(ANSWER_FIELDS)
    if unknown:
        raise WorkflowError("unknown screening answers: " + ", ".join(sorted(unknown)))
    changed = sorted(n for n, v in answers.items() if getattr(screening, n) != v)
    for name, value in answers.items():
        setattr(screening, name, value)
    return changed


def save_screening(
    actor: Actor, exam_id: int, answers: Mapping[str, Any], *, source: str = Source.STAFF
) -> Screening:
    """Store the answers; staff answers count at once and move the exam on (or hold it)."""
    with locked_exam(exam_id) as exam:
        _require_before_arrival(exam)
        screening = Screening.objects.filter(exam=exam).first() or Screening(exam=exam)
        _apply(screening, answers)
        screening.source = source
        screening.recorded_by = actor.user
        screening.reviewed_by = actor.user if source == Source.STAFF else None
        screening.save()
        record(actor, "screening.save", screening, detail={"source": source})
        if screening.reviewed_by is not None:
            _count(actor, exam, screening)
    return screening


def _require_before_arrival(exam) -> None:
    if exam.state not in (State.ORDERED, State.SCREENED, State.SCHEDULED, State.ON_HOLD):
        raise WorkflowError("screening is done before the patient arrives")


def _count(actor: Actor, exam, screening: Screening) -> None:
    """Reviewed answers count: allergies kept, flags raised, the exam moved on or held."""
    _keep_allergies(actor, screening)
    flags = _sync_flags(actor, exam, screening)
    if exam.state == State.ORDERED:
        exam_services.advance(actor, exam, State.SCREENED, "exam.screen")
    blocking = [f.code for f in flags if f.blocking]
    if blocking and exam.state in HOLDABLE:
        exam.held_from = exam.state
        exam.hold_reason = "Safety screening: " + ", ".join(blocking)
        exam_services.advance(actor, exam, State.ON_HOLD, "exam.hold", flags=blocking)


def decide_flag(actor: Actor, flag_id: int, *, decision: str, reason: str) -> Flag:
    """A radiologist's decision on a flag; the last open hold decided resumes the exam."""
    if not reason.strip():
        raise WorkflowError("a decision needs a reason")
    if decision not in Decision.values:
        raise WorkflowError("unknown decision")
    flag = Flag.objects.select_related("exam").get(pk=flag_id)
    with locked_exam(flag.exam_id) as exam:
        flag = exam.flags.select_for_update().get(pk=flag_id)
        if not flag.active:
            raise WorkflowError("this flag no longer applies")
        if flag.decided:
            raise WorkflowError("this flag was already decided")
        flag.decision = decision
        flag.decision_reason = reason
        flag.decided_by = actor.user
        flag.decided_at = timezone.now()
        flag.save()
        record(actor, "flag.decide", flag, detail={"decision": decision, "reason": reason})
        if decision == Decision.CANCEL:
            exam.cancel_reason = f"{flag.code}: {reason}"
            exam_services.advance(actor, exam, State.CANCELLED, "exam.cancel", reason=reason)
        elif exam.state == State.ON_HOLD and not any(f.blocking for f in exam.flags.all()):
            exam_services.advance(actor, exam, exam.held_from, "exam.resume", reason=reason)
            exam.held_from = ""
            exam.save(update_fields=["held_from"])
    return flag


def review_patient_screening(
    actor: Actor, exam_id: int, corrections: Mapping[str, Any] | None = None
) -> Screening:
    """A nurse reviews the patient's own questionnaire; from then on it counts.

    `corrections` are the nurse's changes and additions (e.g. the contrast agent or an
    INR). The answers stay marked as the patient's; flags are raised and the exam moves
    on (or is held) as in save_screening.
    """
    with locked_exam(exam_id) as exam:
        _require_before_arrival(exam)
        screening = Screening.objects.filter(exam=exam).first()
        if screening is None or screening.source != Source.PATIENT:
            raise WorkflowError("there is no patient questionnaire to review")
        if screening.reviewed_by_id is not None:
            raise WorkflowError(
                f"this questionnaire was already reviewed by {screening.reviewed_by}"
            )
        changed = _apply(screening, corrections or {})
        screening.reviewed_by = actor.user
        screening.save()
        record(actor, "screening.review", screening, detail={"changed": changed})
        _count(actor, exam, screening)
    return screening
