"""Modality Performed Procedure Steps: read one (PS3.3 C.4.13-C.4.17) into plain values,
and apply it (create/set the step, move the exam with the modality, take its dose).

Dose: Total Time of Fluoroscopy (0040,0300) in s and Image and Fluoroscopy Area Dose
Product (0018,115E) in dGy.cm2 map to the procedure's fluoroscopy time and KAP. Entrance
Dose in mGy (0040,8302) is kept in the step's record but is not the reference air kerma.
Contrast: the Billing Supplies and Devices Sequence (C.4.17, as IHE SWF uses it) with
its quantity in mL; a plain Contrast/Bolus Agent (0018,0010) is read too.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from pydicom.dataset import Dataset

from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.dicom.dose import RECORDING_STATES, Reported, apply_device_dose
from nephro.dicom.matching import ImageIdentity, match_exam
from nephro.dicom.models import PerformedStep, PpsStatus
from nephro.exams import services as exam_services
from nephro.exams.dose import to_gy_cm2, usable
from nephro.exams.lifecycle import IllegalTransition, State
from nephro.exams.models import Exam, Procedure


def _text(ds: Dataset, keyword: str, limit: int = 64) -> str:
    value = ds.get(keyword, "")
    return str(value if value is not None else "").strip()[:limit]


def _decimal(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _dose(ds: Dataset, keyword: str) -> Decimal | None:
    """A dose attribute: absent, or a usable value; MppsError (0106) otherwise."""
    value = ds.get(keyword)
    if value in (None, ""):
        return None
    number = _decimal(value)
    if number is None or not usable(number):
        raise MppsError(0x0106, f"{keyword} {str(value)[:20]!r} is not a usable dose value")
    return number


def _first(ds: Dataset, keyword: str) -> Dataset | None:
    seq = ds.get(keyword)
    return seq[0] if seq else None


def read_step(ds: Dataset) -> dict:
    scheduled = _first(ds, "ScheduledStepAttributesSequence") or Dataset()
    reason = _first(ds, "PerformedProcedureStepDiscontinuationReasonCodeSequence")
    reported: dict = {}
    fluoro = _dose(ds, "TotalTimeOfFluoroscopy")
    if fluoro is not None:
        reported["fluoro_time_s"] = str(fluoro)
    kap = _dose(ds, "ImageAndFluoroscopyAreaDoseProduct")
    if kap is not None:
        reported["kap_gy_cm2"] = str(to_gy_cm2(kap, "dGy.cm2"))
    entrance = _dose(ds, "EntranceDoseInmGy")
    if entrance is not None:
        reported["entrance_dose_mgy"] = str(entrance)
    reported.update(_contrast(ds))
    return {
        "status": _text(ds, "PerformedProcedureStepStatus", 16).upper(),
        "step_id": _text(ds, "PerformedProcedureStepID", 16),
        "description": _text(ds, "PerformedProcedureStepDescription"),
        "started": " ".join(
            filter(
                None,
                [
                    _text(ds, "PerformedProcedureStepStartDate"),
                    _text(ds, "PerformedProcedureStepStartTime"),
                ],
            )
        ),
        "ended": " ".join(
            filter(
                None,
                [
                    _text(ds, "PerformedProcedureStepEndDate"),
                    _text(ds, "PerformedProcedureStepEndTime"),
                ],
            )
        ),
        "accession": _text(scheduled, "AccessionNumber", 16),
        "study_uid": _text(scheduled, "StudyInstanceUID"),
        "patient_id": _text(ds, "PatientID"),
        "discontinued_reason": _text(reason, "CodeMeaning", 200) if reason else "",
        "reported": reported,
    }


def _contrast(ds: Dataset) -> dict:
    found: dict = {}
    for supply in ds.get("BillingSuppliesAndDevicesSequence") or []:
        item = _first(supply, "BillingItemSequence")
        quantity = _first(supply, "QuantitySequence")
        if item is None:
            continue
        found["contrast_agent"] = _text(item, "CodeMeaning")
        if quantity is not None:
            units = _first(quantity, "MeasuringUnitsSequence")
            unit = _text(units, "CodeValue").lower() if units is not None else ""
            amount = _decimal(quantity.get("Quantity"))
            if amount is not None and unit in ("ml", "cm3"):
                found["contrast_volume_ml"] = str(amount)
        break
    if "contrast_agent" not in found and ds.get("ContrastBolusAgent"):
        found["contrast_agent"] = _text(ds, "ContrastBolusAgent")
        volume = _decimal(ds.get("ContrastBolusVolume"))
        if volume is not None:
            found["contrast_volume_ml"] = str(volume)
    return found


class MppsError(Exception):
    """An MPPS request that cannot be applied; ``status`` is the DIMSE status to return."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def mpps_create(uid: str, pps: dict, *, calling_ae: str, peer: str | None = None) -> PerformedStep:
    if PerformedStep.objects.filter(sop_instance_uid=uid).exists():
        raise MppsError(0x0111, "duplicate SOP instance")
    if pps["status"] != PpsStatus.IN_PROGRESS:
        raise MppsError(0x0106, "a new performed procedure step must be IN PROGRESS")
    exam, why = match_exam(
        ImageIdentity(
            accession=pps["accession"], study_uid=pps["study_uid"], patient_id=pps["patient_id"]
        )
    )
    actor = Actor.device(calling_ae, peer)
    with transaction.atomic():
        step = PerformedStep.objects.create(
            sop_instance_uid=uid,
            exam=exam,
            status=pps["status"],
            calling_ae=calling_ae,
            step_id=pps["step_id"],
            description=pps["description"],
            started=pps["started"],
            reported=pps["reported"],
        )
        record(
            actor,
            "mpps.create",
            step,
            detail={
                "status": step.status,
                "linked": exam is not None,
                **({"why": why} if exam is None else {}),
            },
        )
        if exam is not None:
            _follow_step(actor, exam.pk, step)
    return step


def mpps_set(uid: str, pps: dict, *, calling_ae: str, peer: str | None = None) -> PerformedStep:
    with transaction.atomic():
        step = PerformedStep.objects.select_for_update().filter(sop_instance_uid=uid).first()
        if step is None:
            raise MppsError(0x0112, "no such performed procedure step")
        if step.status != PpsStatus.IN_PROGRESS:
            raise MppsError(0x0110, f"the step is already {step.status}")
        if pps["status"] and pps["status"] not in PpsStatus.values:
            raise MppsError(0x0106, "unknown performed procedure step status")
        step.status = pps["status"] or step.status
        step.ended = pps["ended"] or step.ended
        step.discontinued_reason = pps["discontinued_reason"] or step.discontinued_reason
        step.reported = {**step.reported, **pps["reported"]}
        step.save()
        actor = Actor.device(calling_ae, peer)
        record(
            actor,
            "mpps.set",
            step,
            detail={
                "status": step.status,
                **({"reason": step.discontinued_reason} if step.discontinued_reason else {}),
            },
        )
        if step.exam_id is not None:
            _follow_step(actor, step.exam_id, step)
    return step


def _follow_step(actor: Actor, exam_id: int, step: PerformedStep) -> None:
    """Move the exam with the modality where the lifecycle allows it; record the rest."""
    detail = {"mpps": step.sop_instance_uid}
    with exam_services.locked_exam(exam_id) as exam:
        # The dose and contrast first: they were given while the exam was in progress,
        # and a completed exam takes no device values (dose.py).
        _apply_reported(actor, exam, step)
        exam.refresh_from_db()
        if step.status == PpsStatus.IN_PROGRESS:
            if exam.state != State.IN_PROGRESS:
                try:
                    exam_services.begin(actor, exam, **detail)
                except (exam_services.WorkflowError, IllegalTransition) as exc:
                    record(
                        actor,
                        "exam.start",
                        exam,
                        outcome=Outcome.FAILED,  # type: ignore[arg-type]  # TextChoices (no Django stubs)
                        detail={**detail, "why": f"modality started, but {exc}"},
                    )
        elif step.status == PpsStatus.COMPLETED:
            if exam.state == State.IN_PROGRESS:
                exam.completed_at = timezone.now()
                exam_services.advance(actor, exam, State.COMPLETED, "exam.complete", **detail)  # type: ignore[arg-type]  # TextChoices (no Django stubs)
            elif exam.state != State.COMPLETED:
                record(
                    actor,
                    "exam.complete",
                    exam,
                    outcome=Outcome.FAILED,  # type: ignore[arg-type]  # TextChoices (no Django stubs)
                    detail={
                        **detail,
                        "why": f"modality completed while the exam is {exam.state}",
                    },
                )
        elif step.status == PpsStatus.DISCONTINUED:
            record(
                actor,
                "exam.discontinued",
                exam,
                detail={
                    **detail,
                    "reason": step.discontinued_reason or "not given",
                },
            )


def _apply_reported(actor: Actor, exam: Exam, step: PerformedStep) -> None:
    reported = step.reported
    procedure = Procedure.objects.filter(exam=exam).first()
    if procedure is None:
        return
    contrast = reported.get("contrast_agent")
    volume = reported.get("contrast_volume_ml")
    if (contrast and not procedure.contrast_agent) or (
        volume is not None and procedure.contrast_volume_ml is None
    ):
        procedure.contrast_agent = procedure.contrast_agent or (contrast or "")[:60]
        if procedure.contrast_volume_ml is None and volume is not None:
            procedure.contrast_volume_ml = Decimal(volume).quantize(Decimal("0.1"))
        procedure.save()
        record(
            actor,
            "procedure.contrast",
            procedure,
            detail={
                "source": "mpps",
                "agent": contrast,
                "volume_ml": volume,
            },
        )
    dose = {k: reported.get(k) for k in ("fluoro_time_s", "kap_gy_cm2", "ka_r_mgy")}
    if any(v is not None for v in dose.values()) and exam.state in RECORDING_STATES:
        apply_device_dose(
            actor,
            exam.pk,
            source="mpps",
            reference=step.sop_instance_uid,
            calling_ae=step.calling_ae,
            reported=Reported(**{k: None if v is None else Decimal(v) for k, v in dose.items()}),
        )
