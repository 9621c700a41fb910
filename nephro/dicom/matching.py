"""Which exam a received instance belongs to (the identity door for images)."""

from __future__ import annotations

from dataclasses import dataclass

from nephro.exams.lifecycle import State
from nephro.exams.models import Exam


@dataclass(frozen=True)
class ImageIdentity:
    """Who and which study the images say they are (as sent; the exam is the truth)."""

    accession: str
    study_uid: str
    patient_id: str
    patient_name: str = ""
    birth_date: str = ""  # DICOM DA, YYYYMMDD

    @classmethod
    def of(cls, header) -> ImageIdentity:
        return cls(
            accession=header.accession_number,
            study_uid=header.study_instance_uid,
            patient_id=header.patient_id,
            patient_name=header.patient_name,
            birth_date=header.patient_birth_date,
        )


def match_exam(identity: ImageIdentity) -> tuple[Exam | None, str]:
    """The exam an instance belongs to, or None and why not."""
    accession, study_uid, patient_id = identity.accession, identity.study_uid, identity.patient_id
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
