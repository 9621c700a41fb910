"""Staff follow-up pages: triage list, acknowledgement, phone check-ins, questionnaire review."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override
from django.views.decorators.http import require_POST

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams.lifecycle import IllegalTransition
from nephro.exams.services import WorkflowError
from nephro.exams.views import get_exam
from nephro.followup import selectors, services
from nephro.followup.forms import AcknowledgeForm, CheckInForm
from nephro.followup.models import Action, Alert, CheckIn, ContactAttempt
from nephro.followup.triage import ESCALATING, Urgency, triage
from nephro.lib import once
from nephro.lib.paging import page_of
from nephro.screening import services as screening_services
from nephro.screening.forms import ScreeningForm
from nephro.screening.models import Screening, Source

# The query parameter paging each of the triage page's other lists.
PARAMS = {"questionnaires": "review", "waiting": "waiting", "acknowledged": "done"}


def triage_list(request):
    """Four lists, each paged on its own: open alerts (?page=), questionnaires (?review=),
    check-ins waiting (?waiting=) and acknowledged alerts (?done=)."""
    context = _open_alerts(request)
    for name, rows in (
        ("questionnaires", selectors.questionnaires_to_review()),
        ("waiting", selectors.checkins_waiting(timezone.now())),
        ("acknowledged", selectors.acknowledged()),
    ):
        context[name], context[f"keep_{name}"] = page_of(request, rows, param=PARAMS[name])
    context["radiologists"] = (
        User.objects.filter(role=Role.RADIOLOGIST, is_active=True)
        .select_related("duty")
        .order_by("username")
    )
    record(
        Actor.of(request), "triage.read", detail={"open_alerts": context["alerts"].paginator.count}
    )
    return render(request, "followup/triage.html", context)


def triage_alerts(request):
    """The open alerts alone: what an open triage page fetches every few seconds, with
    the page's own query string, so it stays on the page of alerts being looked at."""
    context = _open_alerts(request)
    detail = {"open_alerts": context["alerts"].paginator.count, "poll": True}
    record(Actor.of(request), "triage.read", detail=detail)
    return render(request, "followup/_open_alerts.html", context)


def _open_alerts(request) -> dict:
    alerts, keep = page_of(request, selectors.open_alerts())
    return {
        "alerts": alerts,
        "keep": keep,
        "query": request.GET.urlencode(),
        "refresh": settings.NEPHRO_TRIAGE_REFRESH_SECONDS,
    }


def acknowledge(request, alert_pk: int):
    alert = get_object_or_404(
        Alert.objects.select_related("exam__patient", "checkin", "acknowledged_by"), pk=alert_pk
    )
    record(Actor.of(request), "alert.read", alert)
    with override("en"):
        result = triage(alert.checkin.symptoms, alert.checkin.temperature_c)
    drawn = once.draw(request, ContactAttempt)
    return once.form_step(
        request,
        AcknowledgeForm(request.POST or None, initial={"submission": drawn.token}),
        lambda data: services.acknowledge_alert(
            Actor.of(request),
            alert.pk,
            action=data["action"],
            note=data["note"],
            submission=data["submission"],
        ),
        success=_acknowledged_message(alert, request.POST.get("action")),
        done=reverse("followup:triage"),
        template="followup/acknowledge.html",
        context={"alert": alert, "result": result, "once": drawn},
        previous_url=lambda attempt: reverse("followup:acknowledge", args=[alert.pk]),
    )


def _acknowledged_message(alert: Alert, action: str | None) -> str:
    if action != Action.NO_ANSWER:
        return "Alert acknowledged."
    if alert.urgency in ESCALATING:
        return "Not reached: the alert stays open and has gone to the radiologist on duty."
    return "Not reached: the alert stays open. Try again later."


def phone_checkin(request, pk: int):
    """A nurse answers the check-in on the patient's behalf, on the phone."""
    exam = get_exam(request, pk)
    drawn = once.draw(request, CheckIn)
    form = CheckInForm(request.POST or None, initial={"submission": drawn.token})
    if exam.completed_at is not None and request.method == "POST" and form.is_valid():
        try:
            checkin = services.record_checkin(
                Actor.of(request).acting_for(exam.patient.audit_name),
                exam.pk,
                symptoms=form.cleaned_data["symptoms"],
                temperature_c=form.cleaned_data["temperature_c"],
                notes=form.cleaned_data["notes"],
                by_phone=True,
                submission=form.cleaned_data["submission"],
            )
        except once.AlreadySubmitted:
            return once.show_previous(request, reverse("exams:detail", args=[exam.pk]))
        except WorkflowError as exc:
            form.add_error(None, f"Not saved: {exc}.")
        else:
            result = triage(checkin.symptoms, checkin.temperature_c)
            level = (
                messages.ERROR
                if result.urgency in (Urgency.EMERGENCY, Urgency.URGENT)
                else messages.SUCCESS
            )
            messages.add_message(
                request,
                level,
                f"Check-in saved ({result.urgency}). Tell the patient: {result.headline} "
                + " ".join(result.advice),
            )
            return redirect("exams:detail", pk=exam.pk)
    context = {"exam": exam, "form": form, "too_early": exam.completed_at is None, "once": drawn}
    return render(
        request, "followup/phone_checkin.html", context, status=400 if form.errors else 200
    )


def review(request, pk: int):
    """A nurse goes over the patient's own questionnaire; then it counts."""
    exam = get_exam(request, pk)
    screening = Screening.objects.filter(exam=exam).first()
    pending = (
        screening is not None
        and screening.source == Source.PATIENT
        and screening.reviewed_by_id is None
    )
    form = ScreeningForm(request.POST or None, instance=screening) if pending else None
    if pending and request.method == "POST" and form.is_valid():
        try:
            screening_services.review_patient_screening(Actor.of(request), exam.pk, form.answers())
        except (WorkflowError, IllegalTransition) as exc:
            form.add_error(None, f"Not saved: {exc}.")
        else:
            messages.success(request, "Questionnaire reviewed: the answers now count.")
            return redirect("exams:detail", pk=exam.pk)
    context = {"exam": exam, "screening": screening, "form": form, "pending": pending}
    status = 400 if form is not None and form.errors else 200
    return render(request, "followup/review.html", context, status=status)


def duty(request):
    if request.method == "POST":
        return _set_duty(request)
    radiologists = User.objects.filter(role=Role.RADIOLOGIST, is_active=True).select_related("duty")
    record(Actor.of(request), "duty.read")
    return render(
        request, "followup/duty.html", {"radiologists": radiologists.order_by("username")}
    )


@require_POST
def _set_duty(request):
    on = request.POST.get("on_duty") == "1"
    services.set_duty(Actor.of(request), on)
    messages.success(request, "You are on duty." if on else "You are off duty.")
    return redirect("followup:triage")
