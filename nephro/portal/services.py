"""Portal writes: invitations, accepting them, the patient's own questionnaire. Audited."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from nephro.accounts.lockout import INVITATION
from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.exams.services import WorkflowError
from nephro.followup import mail
from nephro.lib import once
from nephro.patients.models import Patient
from nephro.portal.models import Invitation, token_hash
from nephro.screening import services as screening_services
from nephro.screening.models import Screening, Source


class InvitationError(Exception):
    """An invitation link that cannot be used, with a message for the patient."""


def invite_patient(
    actor: Actor,
    patient_id: int,
    *,
    email: str,
    language: str,
    site: str = "",
    submission: UUID | None = None,
) -> Invitation:
    """Send a one-time link; any earlier unused link for this patient stops working.
    A repeated `submission` token raises once.AlreadySubmitted(the first invitation)."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic(), once.consume(Invitation, submission):
        patient = Patient.objects.select_for_update().get(pk=patient_id)
        if patient.user_id is not None:
            raise WorkflowError("this patient already has a portal account")
        earlier = patient.invitations.filter(used_at__isnull=True, revoked_at__isnull=True)
        earlier.update(revoked_at=now)
        invitation = Invitation.objects.create(
            patient=patient,
            email=email,
            language=language,
            token_hash=token_hash(token),
            created_by=actor.user,
            created_at=now,
            expires_at=now + timedelta(days=settings.NEPHRO_INVITATION_DAYS),
            submission=submission,
        )
        record(
            actor,
            "portal.invite",
            invitation,
            detail={"expires": invitation.expires_at.isoformat()},
        )
        # The link goes by e-mail only; Nephro never shows or stores the token itself.
        mail.send(
            [email],
            gettext_lazy("Your invitation to the Nephro patient portal"),
            "portal/email/invitation.txt",
            {
                "patient": patient,
                "link": f"{site or settings.NEPHRO_SITE_URL}/invite/{token}/",
                "days": settings.NEPHRO_INVITATION_DAYS,
                "phone": settings.NEPHRO_DEPARTMENT_PHONE,
            },
            language=language,
        )
    return invitation


def find_invitation(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("patient").filter(token_hash=token_hash(token)).first()
    )
    if invitation is None:
        raise InvitationError(_("This link is not valid. Please check that you copied all of it."))
    state = invitation.state()
    if state == "used":
        raise InvitationError(
            _("This link was already used. Please sign in with the password you chose.")
        )
    if state in ("expired", "revoked"):
        raise InvitationError(
            _("This link has expired. Please call the care team at %(phone)s for a new one.")
            % {"phone": settings.NEPHRO_DEPARTMENT_PHONE}
        )
    return invitation


class InvitationLocked(InvitationError):
    """Too many wrong birth dates on this link: it rests for NEPHRO_LOCKOUT_MINUTES."""


class BirthDateMismatch(Exception):
    """The birth date typed is not the patient's; counted as a failed attempt."""


def confirm_identity(actor: Actor, invitation: Invitation, birth_date: date) -> None:
    """The link alone is not enough: the patient also gives their birth date, and wrong
    dates count towards the sign-in lockout rules (nephro.accounts.lockout)."""
    rows = Invitation.objects.filter(pk=invitation.pk)
    if not INVITATION.claim(rows):
        record(actor, "portal.accept", invitation, outcome=Outcome.DENIED, detail={"why": "locked"})
        raise InvitationLocked(
            _(
                "Too many tries. Please wait %(minutes)s minutes and try again, "
                "or call the care team at %(phone)s."
            )
            % {
                "minutes": settings.NEPHRO_LOCKOUT_MINUTES,
                "phone": settings.NEPHRO_DEPARTMENT_PHONE,
            }
        )
    if birth_date != invitation.patient.birth_date:
        INVITATION.failed(rows)
        record(
            actor, "portal.accept", invitation, outcome=Outcome.FAILED, detail={"why": "birth date"}
        )
        raise BirthDateMismatch(
            _("That date of birth does not match our records. Please check it.")
        )
    INVITATION.clear(rows)


def accept_invitation(
    actor: Actor, token: str, *, birth_date: date, username: str, password: str
) -> User:
    """Make the patient's account and link it to their record; the link then stops working."""
    confirm_identity(actor, find_invitation(token), birth_date)
    with transaction.atomic():
        invitation = find_invitation(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.state() != "open":  # another tab got there first
            raise InvitationError(_("This link was already used. Please sign in."))
        patient = Patient.objects.select_for_update().get(pk=invitation.patient_id)
        if patient.user_id is not None:
            raise InvitationError(_("You already have an account. Please sign in."))
        if User.objects.filter(username__iexact=username).exists():
            raise WorkflowError(_("This user name is taken. Please choose another one."))
        user = User(
            username=username,
            role=Role.PATIENT,
            email=invitation.email,
            first_name=patient.given_name,
            last_name=patient.family_name,
        )
        validate_password(password, user)
        user.set_password(password)
        user.save()
        patient.user = user
        patient.save(update_fields=["user"])
        invitation.used_at = timezone.now()
        invitation.save(update_fields=["used_at"])
        record(
            Actor(user=user, address=actor.address),
            "portal.accept",
            invitation,
            detail={"username": username},
        )
    return user


def record_bad_invitation(actor: Actor, reason: str) -> None:
    record(actor, "portal.accept", outcome=Outcome.FAILED, detail={"why": reason})


# The states in which screening may still change (as in screening.services.save_screening).
QUESTIONNAIRE_STATES = frozenset({State.ORDERED, State.SCREENED, State.SCHEDULED, State.ON_HOLD})


def questionnaire_open(exam) -> bool:
    """The patient may answer before the test, until a nurse has reviewed the answers."""
    if exam.state not in QUESTIONNAIRE_STATES:
        return False
    screening = Screening.objects.filter(exam=exam).first()
    return screening is None or screening.reviewed_by_id is None


def submit_questionnaire(actor: Actor, exam_id: int, answers: Mapping[str, Any]) -> Screening:
    """The patient's answers are stored for a nurse to review; they do not count before."""
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=exam_id)
        if exam.state not in QUESTIONNAIRE_STATES:
            raise WorkflowError(
                _("The questions are for before the test. Please call the care team instead.")
            )
        existing = Screening.objects.select_for_update().filter(exam_id=exam_id).first()
        if existing is not None and existing.reviewed_by_id is not None:
            raise WorkflowError(
                _(
                    "A nurse has already gone over your answers. If something has changed, "
                    "please call the care team."
                )
            )
        return screening_services.save_screening(actor, exam_id, answers, source=Source.PATIENT)
