"""Registering patients: one record per person, found again by MRN and date of birth.

MRNs are unique whatever their case (a functional unique index on UPPER(mrn)). A
referrer who types the MRN and date of birth of a patient already registered is given
access to that patient instead of an error, and learns nothing about anyone else: an
MRN that exists with another date of birth gets the same refusal as any mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.lib import once
from nephro.lib.steps import Refused
from nephro.patients.models import Allergy, AllergyKind, Patient

MISMATCH = (
    "these details cannot be registered: check the MRN and the date of birth with the "
    "hospital record, or call the radiology department"
)


class PatientError(Refused):
    """A registration Nephro refuses, with a message fit to show the user."""


class PossibleDuplicate(PatientError):
    """Someone with the same name and date of birth is registered under another MRN."""

    def __init__(self, matches: list[Patient]):
        super().__init__(
            "a patient with the same name and date of birth is already registered under "
            "another MRN: open that record, or confirm this is a different person"
        )
        self.matches = matches


@dataclass(frozen=True)
class PatientDetails:
    mrn: str
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Registration:
    patient: Patient
    existing: bool  # True: a referrer found a patient already registered


def same_person(details: PatientDetails) -> QuerySet[Patient]:
    """Patients with this name and date of birth (any case), the possible duplicates."""
    return Patient.objects.filter(
        family_name__iexact=details.family_name.strip(),
        given_name__iexact=details.given_name.strip(),
        birth_date=details.birth_date,
        merged_into__isnull=True,
    ).exclude(mrn__iexact=details.mrn.strip())


def register_patient(
    actor: Actor,
    details: PatientDetails,
    *,
    submission: UUID | None = None,
    different_person: bool = False,
) -> Registration:
    with once.consume(Patient, submission):
        holder = Patient.objects.filter(mrn__iexact=details.mrn.strip()).first()
        if holder is not None:
            return Registration(_found_by_mrn(actor, holder, details), existing=True)
        matches = list(same_person(details))
        if matches and not different_person:
            raise PossibleDuplicate(matches)
        try:
            with transaction.atomic():
                patient = Patient.objects.create(
                    **{k: v.strip() if isinstance(v, str) else v for k, v in vars(details).items()},
                    registered_by=actor.user,
                    submission=submission,
                )
        except IntegrityError as exc:  # the same MRN registered at the same moment
            if submission is not None and once.previous(Patient, submission):
                raise
            raise PatientError(MISMATCH) from exc
        record(actor, "patient.create", patient, detail={"possible_duplicates": len(matches)})
        return Registration(patient, existing=False)


def _found_by_mrn(actor: Actor, holder: Patient, details: PatientDetails) -> Patient:
    """The MRN is registered: staff are told; a referrer needs the birth date to match."""
    if actor.user.role != Role.REFERRER:
        raise PatientError(f"MRN {holder.mrn} is already registered to {holder}")
    if holder.birth_date != details.birth_date or holder.merged_into_id is not None:
        record(actor, "patient.find", outcome=Outcome.FAILED, detail={"why": "mismatch"})
        raise PatientError(MISMATCH)
    holder.referrers.add(actor.user)
    record(actor, "patient.find", holder, detail={"by": "mrn+birth_date"})
    return holder


def note_allergy(
    actor: Actor, patient_id: int, *, kind: str, agent: str, reaction: str = "", timing: str = ""
) -> Allergy | None:
    """Keep an allergy or contrast reaction on the patient (once per kind and agent)."""
    if not agent.strip():
        return None
    allergy, created = Allergy.objects.get_or_create(
        patient_id=patient_id,
        kind=kind,
        agent__iexact=agent.strip(),
        defaults={
            "agent": agent.strip(),
            "reaction": reaction.strip(),
            "timing": timing.strip(),
            "recorded_by": actor.user,
        },
    )
    if created:
        record(actor, "allergy.record", allergy, detail={"kind": kind, "agent": allergy.agent})
    return allergy


def known_reaction(patient: Patient) -> dict[str, object]:
    """The patient's recorded contrast reaction as screening answers, to start from."""
    allergy = patient.allergies.filter(kind=AllergyKind.CONTRAST).last()
    if allergy is None:
        return {}
    return {
        "prior_contrast_reaction": True,
        "reaction_agent": allergy.agent,
        "reaction_description": allergy.reaction,
        "reaction_timing": allergy.timing,
    }
