"""Reconciliation: images that matched no exam wait here until a person links them."""

from __future__ import annotations

from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.dicom import storage
from nephro.dicom.ingest import import_part10
from nephro.dicom.models import Instance
from nephro.dicom.signals import images_linked
from nephro.dicom.sop import RDSR_CLASS
from nephro.exams import services as exam_services
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.jobs.queue import enqueue


def upload_to_exam(actor: Actor, exam: Exam, files) -> tuple[int, list[tuple[str, str]]]:
    """Store uploaded files; images whose headers name another study join this exam."""
    stored, refused, studies = 0, [], set()
    for upload in files:
        try:
            result = import_part10(upload, calling_ae="UPLOAD")
        except storage.Rejected as exc:
            refused.append((upload.name, str(exc)))
            record(
                actor,
                "dicom.upload",
                exam,
                outcome=Outcome.FAILED,
                detail={"file": upload.name, "why": str(exc)},
            )
            continue
        stored += 1
        if result.instance.exam_id is None:
            studies.add(result.instance.study_instance_uid)
        elif result.instance.exam_id != exam.pk:
            refused.append((upload.name, "these images belong to another exam"))
    for study_uid in studies:
        link(actor, study_uid=study_uid, exam=exam)
    if stored:
        record(actor, "dicom.upload", exam, detail={"files": stored})
    return stored, refused


def link(actor: Actor, *, study_uid: str, exam: Exam) -> int:
    """Reconciliation: attach every unmatched instance of a study to an exam."""
    with exam_services.locked_exam(exam.pk) as locked:
        if locked.state == State.CANCELLED:
            raise exam_services.WorkflowError("images cannot be linked to a cancelled exam")
        instances = list(
            Instance.objects.select_for_update().filter(
                study_instance_uid=study_uid, exam__isnull=True
            )
        )
        if not instances:
            raise exam_services.WorkflowError("these images are no longer waiting")
        Instance.objects.filter(pk__in=[i.pk for i in instances]).update(
            exam=locked, unmatched_reason=""
        )
        record(
            actor,
            "dicom.link",
            locked,
            detail={
                "study_uid": study_uid,
                "instances": len(instances),
                "sent_patient_id": instances[0].patient_id,
                "sent_accession": instances[0].accession_number,
            },
        )
        for instance in instances:
            # A marked instance gets its job when its batch is audited.
            if instance.sop_class_uid == RDSR_CLASS and not instance.audit_pending:
                enqueue("dicom.rdsr", instance_id=instance.pk)
        if any(instance.has_pixels for instance in instances):
            images_linked.send(Instance, actor=actor, exam=locked)
    return len(instances)


def unmatched_studies() -> list[dict]:
    """Instances waiting for reconciliation, one row per study."""
    rows: dict[str, dict] = {}
    for instance in Instance.objects.filter(exam__isnull=True).order_by("received_at"):
        row = rows.setdefault(
            instance.study_instance_uid,
            {
                "study_uid": instance.study_instance_uid,
                "patient_name": instance.patient_name,
                "patient_id": instance.patient_id,
                "accession": instance.accession_number,
                "study_date": instance.study_date,
                "calling_ae": instance.calling_ae,
                "received_at": instance.received_at,
                "reason": instance.unmatched_reason,
                "count": 0,
                "modalities": set(),
            },
        )
        row["count"] += 1
        row["modalities"].add(instance.modality)
    return list(rows.values())
