"""Patient portal pages: thin views over nephro.portal.services and nephro.followup.services.

Every exam is fetched through visible_exams(), so a patient reaches only their own; any
other identifier gets the same plain "not found" page, and the attempt is audited.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.exams.access import visible_exams
from nephro.exams.services import WorkflowError
from nephro.followup import services as followup_services
from nephro.followup.forms import CheckInForm
from nephro.followup.models import CheckIn
from nephro.followup.triage import triage
from nephro.lib import once
from nephro.patients.access import visible_patients
from nephro.portal import services
from nephro.portal.content import sections
from nephro.portal.forms import AcceptForm, InviteForm, QuestionnaireForm
from nephro.portal.handout import appointment_text, handout_pdf, side_text
from nephro.portal.models import Invitation
from nephro.screening.models import Screening
from nephro.screening.rules import child_bearing_potential


class NotYours(Exception):
    pass


def patient_view(view):
    """Turn a missing or foreign record into one plain 404 page that names nothing."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotYours:
            record(
                Actor.of(request),
                "portal.not_found",
                outcome=Outcome.DENIED,
                detail={"view": request.resolver_match.view_name, "args": kwargs},
            )
            return render(
                request,
                "portal/not_found.html",
                {"phone": settings.NEPHRO_DEPARTMENT_PHONE},
                status=404,
            )

    return wrapper


def _exam(request, pk: int, action: str):
    exam = visible_exams(request.user).filter(pk=pk).first()
    if exam is None:
        raise NotYours
    record(Actor.of(request), action, exam)
    return exam


def info(request):
    """Public: the general information, no login and no patient data."""
    return render(request, "portal/info.html", {"sections": sections()})


def landing(request):
    """The patient's home page (front.views.home sends patients here)."""
    exams = list(visible_exams(request.user).order_by("-created_at"))
    patient = visible_patients(request.user).first()
    record(Actor.of(request), "portal.home.read", patient=patient, detail={"exams": len(exams)})
    rows = [
        {
            "exam": exam,
            "when": appointment_text(exam),
            "side": side_text(exam),
            "questionnaire": services.questionnaire_open(exam),
            "checkin": exam.completed_at is not None,
        }
        for exam in exams
    ]
    return render(request, "front/patient_home.html", {"rows": rows, "patient": patient})


@patient_view
def exam_page(request, pk: int):
    exam = _exam(request, pk, "portal.exam.read")
    checkins = [
        (c, triage(c.symptoms, c.temperature_c))
        for c in exam.checkins.filter(answered_at__isnull=False)
    ]
    context = {
        "exam": exam,
        "when": appointment_text(exam),
        "side": side_text(exam),
        "questionnaire": services.questionnaire_open(exam),
        "screening": Screening.objects.filter(exam=exam).first(),
        "checkins": checkins,
        "phone": settings.NEPHRO_DEPARTMENT_PHONE,
    }
    return render(request, "portal/exam.html", context)


@patient_view
def questionnaire(request, pk: int):
    exam = _exam(request, pk, "portal.questionnaire.read")
    instance = Screening.objects.filter(exam=exam).first() or Screening(exam=exam)
    is_open = services.questionnaire_open(exam)
    form = QuestionnaireForm(
        request.POST if request.method == "POST" and is_open else None,
        instance=instance,
        ask_pregnancy=child_bearing_potential(instance, timezone.localdate()),
    )
    if is_open and request.method == "POST" and form.is_valid():
        try:
            services.submit_questionnaire(Actor.of(request), exam.pk, form.answers())
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("Thank you. A nurse will go over your answers before your test.")
            )
            return redirect("portal:exam", pk=exam.pk)
    context = {
        "exam": exam,
        "form": form,
        "is_open": is_open,
        "too_late": exam.state not in services.QUESTIONNAIRE_STATES,
    }
    return render(request, "portal/questionnaire.html", context, status=400 if form.errors else 200)


@patient_view
def checkin(request, pk: int):
    exam = _exam(request, pk, "portal.checkin.read")
    # One check-in per form, also after Back (nephro.lib.once): a repeat shows the first.
    drawn = once.draw(request, CheckIn)
    form = CheckInForm(request.POST or None, initial={"submission": drawn.token})
    if exam.completed_at is not None and request.method == "POST" and form.is_valid():
        try:
            saved = followup_services.record_checkin(
                Actor.of(request),
                exam.pk,
                symptoms=form.cleaned_data["symptoms"],
                temperature_c=form.cleaned_data["temperature_c"],
                notes=form.cleaned_data["notes"],
                submission=form.cleaned_data["submission"],
            )
        except once.AlreadySubmitted as exc:
            return redirect("portal:checkin-result", checkin_pk=exc.record.pk)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("portal:checkin-result", checkin_pk=saved.pk)
    context = {"exam": exam, "form": form, "too_early": exam.completed_at is None}
    return render(request, "portal/checkin.html", context, status=400 if form.errors else 200)


@patient_view
def checkin_result(request, checkin_pk: int):
    checkin = (
        CheckIn.objects.filter(
            pk=checkin_pk, exam__in=visible_exams(request.user), answered_at__isnull=False
        )
        .select_related("exam__patient")
        .first()
    )
    if checkin is None:
        raise NotYours
    record(Actor.of(request), "portal.checkin.result", checkin)
    context = {
        "checkin": checkin,
        "result": triage(checkin.symptoms, checkin.temperature_c),
        "phone": settings.NEPHRO_DEPARTMENT_PHONE,
        "emergency": settings.NEPHRO_EMERGENCY_NUMBER,
    }
    return render(request, "portal/checkin_result.html", context)


@patient_view
def handout(request, pk: int):
    exam = _exam(request, pk, "portal.handout")
    response = HttpResponse(handout_pdf(exam), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="nephrostogram-{exam.pk}.pdf"'
    return response


def accept(request, token: str):
    """Public: the one-time invitation link. A bad link changes nothing."""
    try:
        invitation = services.find_invitation(token)
    except services.InvitationError as exc:
        services.record_bad_invitation(Actor.of(request), "link")
        return render(request, "portal/accept_error.html", {"error": str(exc)}, status=410)
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        # The language staff chose for the patient, until the patient picks another.
        translation.activate(invitation.language)
        request.LANGUAGE_CODE = invitation.language
    form = AcceptForm(
        request.POST or None,
        patient=invitation.patient,
        initial={"username": invitation.email},
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invitation(
                Actor.of(request),
                token,
                birth_date=form.cleaned_data["birth_date"],
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except services.InvitationLocked as exc:
            return render(request, "portal/accept_error.html", {"error": str(exc)}, status=429)
        except services.BirthDateMismatch as exc:
            form.add_error("birth_date", str(exc))
        except services.InvitationError as exc:
            return render(request, "portal/accept_error.html", {"error": str(exc)}, status=410)
        except (WorkflowError, ValidationError) as exc:
            form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome. Your account is ready."))
            return redirect("home")
    return render(
        request,
        "portal/accept.html",
        {"form": form, "given_name": invitation.patient.given_name},
        status=400 if form.errors else 200,
    )


def invite(request, patient_pk: int):
    """Staff: send the patient a portal invitation."""
    patient = get_object_or_404(visible_patients(request.user), pk=patient_pk)
    drawn = once.draw(request, Invitation)
    initial = {"email": patient.email, "language": request.LANGUAGE_CODE}
    form = InviteForm(request.POST or None, initial={**initial, "submission": drawn.token})
    if request.method == "POST" and form.is_valid():
        try:
            services.invite_patient(
                Actor.of(request),
                patient.pk,
                email=form.cleaned_data["email"],
                language=form.cleaned_data["language"],
                site="" if settings.NEPHRO_SITE_URL_FIXED else request.build_absolute_uri("/")[:-1],
                submission=form.cleaned_data["submission"],
            )
        except once.AlreadySubmitted:
            return once.show_previous(request, reverse("portal:invite", args=[patient.pk]))
        except WorkflowError as exc:
            form.add_error(None, f"Not sent: {exc}.")
        else:
            messages.success(
                request,
                f"Invitation sent to {form.cleaned_data['email']}. The link works once and "
                f"expires in {settings.NEPHRO_INVITATION_DAYS} days.",
            )
            return redirect("patients:detail", pk=patient.pk)
    record(Actor.of(request), "patient.read", patient)
    context = {
        "form": form,
        "patient": patient,
        "invitations": Invitation.objects.filter(patient=patient).select_related("created_by"),
        "now": timezone.now(),
        "once": drawn,
    }
    return render(request, "portal/invite.html", context, status=400 if form.errors else 200)
