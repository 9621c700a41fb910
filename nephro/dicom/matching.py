"""Which exam a received instance belongs to (the identity door for images)."""

from __future__ import annotations

from nephro.exams.lifecycle import State
from nephro.exams.models import Exam


def match_exam(accession: str, study_uid: str, patient_id: str) -> tuple[Exam | None, str]:
    """The exam an instance belongs to, or None and why not."""
    by_accession = Exam.objects.filter(accession_number=accession).first() if accession else None
    by_study = Exam.objects.filter(study_instance_uid=study_uid).first() if study_uid else None
    if by_accession and by_study and by_accession.pk != by_study.pk:
        return None, "accession number and study UID point to different exams"
    exam = by_accession or by_study
    if exam is None:
        return None, "no exam with this accession number or study UID"
    if exam.state == State.CANCELLED:
        return None, "the matching exam is cancelled"
    mrn = exam.patient.mrn
    if patient_id and patient_id != mrn:
        return None, "patient ID in the images differs from the exam's patient"
    return exam, ""
