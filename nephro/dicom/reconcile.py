"""Reconciliation: images that matched no exam wait here until a person links them.

A link that the images' identity does not support (another patient's ID, name or birth
date; an exam whose report is final) needs a radiologist's or technologist's explicit
confirmation with a reason, and the audit event names both identities. Images linked to
an exam with a final report start no new analysis: the report is changed by an addendum.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.files.uploadedfile import UploadedFile

from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.dicom import objectstore, storage
from nephro.dicom.ingest import import_part10
from nephro.dicom.matching import (
    NO_EXAM,
    ImageIdentity,
    conflict_reason,
    final_reason,
    identity_confirmed,
    identity_conflicts,
    report_is_final,
)
from nephro.dicom.models import Instance
from nephro.dicom.signals import images_linked
from nephro.exams import services as exam_services
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.jobs.queue import enqueue

# Who may link images against what they say about themselves (issue 15).
CONFIRMING_ROLES = frozenset({Role.RADIOLOGIST, Role.TECHNOLOGIST})


@dataclass(frozen=True)
class SentPatient:
    """One patient identity found among a study's waiting instances."""

    patient_id: str
    patient_name: str
    birth_date: str
    count: int
    conflicts: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "patient_id": self.patient_id,
            "patient_name": self.patient_name,
            "birth_date": self.birth_date,
            "instances": self.count,
            "conflicts": list(self.conflicts),
        }


@dataclass(frozen=True)
class LinkCheck:
    """What a person must confirm before a study's waiting images join an exam."""

    exam: Exam
    sent: list[SentPatient]
    report_final: bool

    @property
    def mismatched(self) -> list[SentPatient]:
        return [who for who in self.sent if who.conflicts]

    @property
    def needs_confirmation(self) -> bool:
        return self.report_final or bool(self.mismatched)


class NeedsConfirmation(exam_services.WorkflowError):
    def __init__(self, check: LinkCheck, message: str):
        super().__init__(message)
        self.check = check


def _sent_patients(instances: list[Instance], exam: Exam | None = None) -> list[SentPatient]:
    counts = Counter(
        (i.patient_id, i.patient_name, i.patient_birth_date) for i in instances
    ).most_common()
    return [
        SentPatient(
            pid,
            name,
            born,
            count,
            tuple(identity_conflicts(ImageIdentity("", "", pid, name, born), exam.patient))
            if exam is not None
            else (),
        )
        for (pid, name, born), count in counts
    ]


def _waiting(study_uid: str, *, lock: bool = False) -> list[Instance]:
    query = Instance.objects.filter(study_instance_uid=study_uid, exam__isnull=True)
    return list(query.select_for_update() if lock else query)


def link(actor: Actor, *, study_uid: str, exam: Exam, reason: str = "") -> LinkCheck:
    """Reconciliation: attach every waiting instance of a study to an exam.

    Raises NeedsConfirmation when the images' identity differs from the exam's patient
    or the exam's report is final and no reason is given.
    """
    reason = reason.strip()
    with exam_services.locked_exam(exam.pk) as locked:
        if locked.state == State.CANCELLED:
            raise exam_services.WorkflowError("images cannot be linked to a cancelled exam")
        instances = _waiting(study_uid, lock=True)
        if not instances:
            raise exam_services.WorkflowError("these images are no longer waiting")
        check = LinkCheck(locked, _sent_patients(instances, locked), report_is_final(locked))
        if check.needs_confirmation:
            if not reason:
                raise NeedsConfirmation(check, "confirm the link and give a reason")
            if getattr(actor.user, "role", None) not in CONFIRMING_ROLES:
                raise exam_services.WorkflowError(
                    "only a radiologist or technologist may confirm this link"
                )
        _attach(actor, locked, instances, check, reason)
    return check


def _attach(
    actor: Actor, exam: Exam, instances: list[Instance], check: LinkCheck, reason: str
) -> None:
    Instance.objects.filter(pk__in=[i.pk for i in instances]).update(exam=exam, unmatched_reason="")
    patient = exam.patient
    record(
        actor,
        "dicom.link",
        exam,
        detail={
            "study_uid": instances[0].study_instance_uid,
            "instances": len(instances),
            "sent": [who.to_dict() for who in check.sent],
            "sent_accession": sorted({i.accession_number for i in instances}),
            "exam_patient": {
                "mrn": patient.mrn,
                "name": patient.dicom_name,
                "birth_date": patient.birth_date.isoformat(),
            },
            "confirmed": check.needs_confirmation,
            "reason": reason,
            "report_final": check.report_final,
        },
    )
    for instance in instances:
        # Any class that may carry a dose report (RDSR, Enhanced or Comprehensive SR);
        # a marked instance gets its job when its batch is audited.
        if instance.is_dose_report and not instance.audit_pending:
            enqueue("dicom.rdsr", instance_id=instance.pk)
    # A final report is changed only by an addendum: no analysis starts behind it.
    if not check.report_final and any(instance.has_pixels for instance in instances):
        images_linked.send(Instance, actor=actor, exam=exam)


@dataclass
class UploadResult:
    """What happened to each uploaded file, so the page can say exactly that."""

    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)
    elsewhere: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


STORE_DOWN = "the image store cannot be reached just now; please try again in a few minutes"


def upload_to_exam(actor: Actor, exam: Exam, files: Iterable[UploadedFile]) -> UploadResult:
    """Store uploaded files. They join this exam only when they name its patient and the
    exam's report is not final; others wait for reconciliation, saying why."""
    result = UploadResult()
    adopt: list[Instance] = []
    for upload in files:
        try:
            stored = import_part10(upload, calling_ae="UPLOAD")
        except storage.Rejected as exc:
            result.refused.append((upload.name, str(exc)))
            continue
        except objectstore.Unavailable:
            result.refused.append((upload.name, STORE_DOWN))
            continue
        instance = stored.instance
        if instance.exam_id == exam.pk:
            (result.already if stored.duplicate else result.added).append(upload.name)
        elif instance.exam_id is not None:
            result.elsewhere.append((upload.name, instance.exam.accession_number))
        else:
            why = _upload_wait_reason(instance, exam)
            if why:
                Instance.objects.filter(pk=instance.pk).update(unmatched_reason=why[:200])
                result.waiting.append((upload.name, why))
            else:
                adopt.append(instance)
                result.added.append(upload.name)
    if adopt:
        with exam_services.locked_exam(exam.pk) as locked:
            check = LinkCheck(locked, _sent_patients(adopt, locked), False)
            _attach(actor, locked, adopt, check, "")
    _audit_upload(actor, exam, result)
    return result


def _upload_wait_reason(instance: Instance, exam: Exam) -> str:
    """Why an uploaded file that matched no exam does not join this one ("" if it may)."""
    if instance.unmatched_reason != NO_EXAM:
        return instance.unmatched_reason
    identity = ImageIdentity.of(instance)  # the index row keeps the header's names
    conflicts = identity_conflicts(identity, exam.patient)
    if conflicts:
        return conflict_reason(conflicts, exam)
    if not identity_confirmed(identity, exam.patient):
        return f"the images do not name the patient of exam {exam.accession_number}"
    if exam.state == State.CANCELLED:
        return "the exam is cancelled"
    if report_is_final(exam):
        return final_reason(exam)
    return ""


def _audit_upload(actor: Actor, exam: Exam, result: UploadResult) -> None:
    for name, why in result.refused:
        record(
            actor,
            "dicom.upload",
            exam,
            outcome=Outcome.FAILED,  # type: ignore[arg-type]  # TextChoices (no Django stubs)
            detail={"file": name, "why": why},
        )
    stored = len(result.added) + len(result.already) + len(result.waiting) + len(result.elsewhere)
    if stored:
        record(
            actor,
            "dicom.upload",
            exam,
            detail={
                "added": len(result.added),
                "already": len(result.already),
                "waiting": len(result.waiting),
                "elsewhere": len(result.elsewhere),
            },
        )


def unmatched_studies() -> list[dict]:
    """Instances waiting for reconciliation, one row per study, with every patient the
    study's instances name (not only the first instance's)."""
    studies: dict[str, list[Instance]] = {}
    for instance in Instance.objects.filter(exam__isnull=True).order_by("received_at"):
        studies.setdefault(instance.study_instance_uid, []).append(instance)
    rows = []
    for study_uid, instances in studies.items():
        first = instances[0]
        rows.append(
            {
                "study_uid": study_uid,
                "patients": _sent_patients(instances),
                "accessions": sorted({i.accession_number for i in instances if i.accession_number}),
                "study_date": first.study_date,
                "calling_ae": first.calling_ae,
                "received_at": first.received_at,
                "reasons": sorted({i.unmatched_reason for i in instances if i.unmatched_reason}),
                "count": len(instances),
                "modalities": sorted({i.modality for i in instances}),
            }
        )
    return rows
