"""Findings, report drafting, signing, addenda and the tube disposition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams import services as exam_services
from nephro.exams.lifecycle import State
from nephro.exams.services import WorkflowError, locked_exam
from nephro.lib import once
from nephro.reports import narrative
from nephro.reports.consistency import contradictions, describe
from nephro.reports.models import (
    Addendum,
    Disposition,
    DispositionChoice,
    Findings,
    Report,
    ReportStatus,
)
from nephro.tubes import services as tube_services

REPORTABLE = (State.COMPLETED, State.REPORTED)


@dataclass(frozen=True)
class ReportText:
    """The three sections of a report, exactly as the radiologist sees them."""

    technique: str
    findings_text: str
    impression: str

    @classmethod
    def of(cls, report: Report) -> ReportText:
        return cls(report.technique, report.findings_text, report.impression)


def check_text_size(*texts: str) -> None:
    limit = settings.NEPHRO_REPORT_TEXT_MAX_CHARS
    if any(len(text) > limit for text in texts):
        raise WorkflowError(f"a report section may have at most {limit} characters")


def check_findings(values) -> None:
    """Refuse findings whose fields contradict each other (consistency.RULES)."""
    broken = contradictions(values)
    if broken:
        raise WorkflowError(describe(broken))


# The coded findings a radiologist records (everything on Findings but its bookkeeping).
FINDINGS_FIELDS = tuple(
    field.name
    for field in Findings._meta.concrete_fields
    if field.name not in ("id", "exam", "recorded_by", "updated_at")
)


def save_findings(actor: Actor, exam_id: int, values: Mapping[str, object]) -> Findings:
    """Record the structured findings (field name -> value, as FindingsForm cleans them)
    and regenerate the draft report text from them."""
    unknown = set(values) - set(FINDINGS_FIELDS)
    if unknown:
        raise WorkflowError(f"unknown findings: {', '.join(sorted(unknown))}")
    with locked_exam(exam_id) as exam:
        if exam.state not in REPORTABLE:
            raise WorkflowError("findings are recorded after the study is completed")
        report = getattr(exam, "report", None)
        if report is not None and report.is_final:
            raise WorkflowError("the report is final; add an addendum instead")
        check_findings(values)
        findings = Findings.objects.filter(exam=exam).first() or Findings(exam=exam)
        changed = sorted(name for name, value in values.items() if getattr(findings, name) != value)
        for name, value in values.items():
            setattr(findings, name, value)
        findings.recorded_by = actor.user
        try:
            findings.full_clean(exclude=["exam", "recorded_by"], validate_unique=False)
        except ValidationError as exc:
            raise WorkflowError(f"findings not valid: {'; '.join(exc.messages)}") from exc
        findings.save()
        record(actor, "findings.save", findings, detail={"fields": changed})
        # The narrative follows the findings until the radiologist signs.
        draft = {
            "technique": narrative.technique(exam),
            "findings_text": narrative.findings_text(findings),
            "impression": narrative.impression(findings),
        }
        report, created = Report.objects.get_or_create(exam=exam, defaults=draft)
        if not created:
            for key, value in draft.items():
                setattr(report, key, value)
            report.save()
        record(actor, "report.draft", report)
    return findings


def save_report_text(
    actor: Actor, exam_id: int, *, technique: str, findings_text: str, impression: str
):
    with locked_exam(exam_id) as exam:
        report = _editable_report(exam)
        _write_text(actor, report, ReportText(technique, findings_text, impression))
    return report


def _editable_report(exam) -> Report:
    report = Report.objects.select_for_update().filter(exam=exam).first()
    if report is None:
        raise WorkflowError("record the structured findings first")
    if report.is_final:
        raise WorkflowError("the report is final; add an addendum instead")
    return report


def _write_text(actor: Actor, report: Report, text: ReportText) -> None:
    check_text_size(text.technique, text.findings_text, text.impression)
    if text == ReportText.of(report):
        return
    report.technique, report.findings_text, report.impression = asdict(text).values()
    report.save()
    record(actor, "report.edit", report)


def sign(actor: Actor, exam_id: int, *, final: bool, text: ReportText | None = None) -> Report:
    """Sign preliminary (draft -> preliminary) or final (draft/preliminary -> final).

    ``text`` is the report as the signer sees it on the screen: it is saved and signed in
    one step, so an edit not yet saved is never lost or left unsigned. None signs the
    stored text (callers that show no text, such as the demo loader).
    """
    with locked_exam(exam_id) as exam:
        report = Report.objects.select_for_update().filter(exam=exam).first()
        if report is None:
            raise WorkflowError("there is no report to sign")
        if report.status == ReportStatus.FINAL:
            raise WorkflowError("the report is already final")
        if not final and report.status == ReportStatus.PRELIMINARY:
            raise WorkflowError("the report is already signed as preliminary")
        findings = Findings.objects.filter(exam=exam).first()
        if findings is not None:
            check_findings(model_to_dict(findings))
        if text is not None:
            _write_text(actor, report, text)
        now = timezone.now()
        if final:
            report.status, report.signed_by, report.signed_at = (
                ReportStatus.FINAL,
                actor.user,
                now,
            )
        else:
            report.status = ReportStatus.PRELIMINARY
            report.preliminary_by, report.preliminary_at = actor.user, now
        report.save()
        record(actor, "report.sign", report, detail={"status": report.status})
        if exam.state == State.COMPLETED:
            exam_services.advance(actor, exam, State.REPORTED, "exam.reported")
    return report


def add_addendum(
    actor: Actor, exam_id: int, text: str, *, submission: UUID | None = None
) -> Addendum:
    """A repeated `submission` token raises once.AlreadySubmitted(the first addendum)."""
    if not text.strip():
        raise WorkflowError("an addendum needs text")
    check_text_size(text)
    with locked_exam(exam_id) as exam, once.consume(Addendum, submission):
        report = getattr(exam, "report", None)
        if report is None or report.status != ReportStatus.FINAL:
            raise WorkflowError("addenda are added to final reports; edit the draft instead")
        addendum = Addendum.objects.create(
            report=report, text=text, author=actor.user, submission=submission
        )
        record(actor, "report.addendum", report, detail={"addendum": addendum.pk})
    return addendum


def record_disposition(
    actor: Actor, exam_id: int, *, decision: str, reason: str
) -> tube_services.RegistryChange:
    """Record the tube decision and make the registry follow it; return what the registry
    did (with no tube linked it is not updated, and the summary says so)."""
    if not reason.strip():
        raise WorkflowError("the tube decision needs a reason")
    if decision not in DispositionChoice.values:
        raise WorkflowError("unknown tube decision")
    with locked_exam(exam_id) as exam:
        if exam.state != State.REPORTED:
            raise WorkflowError("the tube decision follows the signed report")
        if hasattr(exam, "disposition"):
            raise WorkflowError("the tube decision was already recorded")
        with transaction.atomic():
            disposition = Disposition.objects.create(
                exam=exam, decision=decision, reason=reason, decided_by=actor.user
            )
            record(actor, "disposition.record", disposition, detail={"decision": decision})
            change = tube_services.apply_disposition(actor, exam.tube, decision)
            exam_services.advance(actor, exam, State.FOLLOW_UP, "exam.follow_up")
    return change
