"""Which exam a received instance belongs to (the identity door for images).

Every door that links images to an exam (C-STORE, upload, demo import through
`match_exam`; reconciliation through `identity_conflicts`) compares the identity the
images carry with the exam's patient: the Patient ID with the MRN, the Patient's Name
(DICOM PN, PS3.5 6.2: ``Family^Given^Middle^Prefix^Suffix``, up to three ``=`` groups)
with the family and given names, the Patient's Birth Date (DA, ``YYYYMMDD``) with the
date of birth. A field the images leave empty is not compared; a field that differs
stops the link, so another patient's images never join an exam silently.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.patients.models import Patient

if TYPE_CHECKING:
    from nephro.dicom.models import Instance
    from nephro.dicom.storage import Header

NO_EXAM = "no exam with this accession number or study UID"

# Letters that Unicode does not decompose into a base letter and an accent.
_FOLD = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ı": "i", "ħ": "h", "ŧ": "t"})
_SPELLED = {"ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ä": "ae", "ö": "oe", "ü": "ue"}
_NOT_LETTER = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class ImageIdentity:
    """Who and which study the images say they are (as sent; the exam is the truth)."""

    accession: str
    study_uid: str
    patient_id: str
    patient_name: str = ""
    birth_date: str = ""  # DICOM DA, YYYYMMDD

    @classmethod
    def of(cls, header: Header | Instance) -> ImageIdentity:
        """From a parsed header, or an index row (Instance) that keeps its fields."""
        return cls(
            accession=header.accession_number,
            study_uid=header.study_instance_uid,
            patient_id=header.patient_id,
            patient_name=header.patient_name,
            birth_date=header.patient_birth_date,
        )


def _spellings(part: str) -> set[str]:
    """A name part without case, accents, punctuation or spacing; German umlauts also
    as they are written without them (Müller = Muller = Mueller)."""
    lowered = part.casefold()
    spelled = "".join(_SPELLED.get(char, char) for char in lowered)
    forms = set()
    for text in (lowered, spelled):
        stripped = "".join(
            char
            for char in unicodedata.normalize("NFKD", text.translate(_FOLD))
            if not unicodedata.combining(char)
        )
        forms.add(" ".join(_NOT_LETTER.sub(" ", stripped).split()))
    return forms


def _agree(sent: str, ours: str, *, first_word: bool = False) -> bool:
    if first_word:
        sent, ours = sent.split(" ")[0] if sent else "", ours.split(" ")[0] if ours else ""
    return bool(_spellings(sent) & _spellings(ours))


def same_name(sent: str, family: str, given: str) -> bool:
    """Whether a DICOM PN names the person with this family and given name.

    Any of the PN's groups (alphabetic, ideographic, phonetic) may match. The family
    names must agree; the given names agree when equal or when their first words are
    (a middle name on one side only is not a different person).
    """
    for group in sent.split("="):
        parts = [part.strip() for part in group.split("^")]
        if len(parts) < 2 or not parts[0]:
            continue
        if _agree(parts[0], family) and (
            _agree(parts[1], given) or _agree(parts[1], given, first_word=True)
        ):
            return True
    return False


def identity_conflicts(identity: ImageIdentity, patient: Patient) -> list[str]:
    """The identity fields the images carry that differ from the patient's (empty: none)."""
    conflicts = []
    sent_id = identity.patient_id.strip()
    if sent_id and sent_id.casefold() != patient.mrn.strip().casefold():
        conflicts.append("patient ID")
    name = identity.patient_name.strip()
    if name and not same_name(name, patient.family_name, patient.given_name):
        conflicts.append("name")
    born = identity.birth_date.strip()
    if born and born != patient.birth_date.strftime("%Y%m%d"):
        conflicts.append("birth date")
    return conflicts


def identity_confirmed(identity: ImageIdentity, patient: Patient) -> bool:
    """The images name this patient positively (their ID, or their name and birth date)
    and nothing in them contradicts it."""
    if identity_conflicts(identity, patient):
        return False
    by_name = identity.patient_name.strip() and identity.birth_date.strip()
    return bool(identity.patient_id.strip() or by_name)


def report_is_final(exam: Exam) -> bool:
    """Whether the exam's report is signed final (through the relation: reports sits above
    dicom in the layers, so dicom reads it without importing it)."""
    return Exam.objects.filter(pk=exam.pk, report__status="final").exists()


def conflict_reason(conflicts: list[str], exam: Exam) -> str:
    *rest, last = conflicts
    fields = f"{', '.join(rest)} and {last}" if rest else last
    verb = "differ" if rest else "differs"
    return f"the {fields} in the images {verb} from the patient of exam {exam.accession_number}"


def final_reason(exam: Exam) -> str:
    return f"the report of exam {exam.accession_number} is final; linking adds an addendum"


def match_exam(identity: ImageIdentity) -> tuple[Exam | None, str]:
    """The exam an instance belongs to, or None and why not."""
    accession, study_uid = identity.accession, identity.study_uid
    by_accession = Exam.objects.filter(accession_number=accession).first() if accession else None
    by_study = Exam.objects.filter(study_instance_uid=study_uid).first() if study_uid else None
    if by_accession and by_study and by_accession.pk != by_study.pk:
        return None, "accession number and study UID point to different exams"
    exam = by_accession or by_study
    if exam is None:
        return None, NO_EXAM
    if exam.state == State.CANCELLED:
        return None, "the matching exam is cancelled"
    conflicts = identity_conflicts(identity, exam.patient)
    if conflicts:
        return None, conflict_reason(conflicts, exam)
    if report_is_final(exam):
        return None, final_reason(exam)
    return exam, ""
