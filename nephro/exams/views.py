"""Exam pages: thin views that validate, call one service, and render or redirect."""

from functools import wraps

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams import rooms, selectors, services
from nephro.exams.access import visible_exams
from nephro.exams.dose import dose_flags
from nephro.exams.forms import (
    CheckInForm,
    DayForm,
    LinkTubeForm,
    OrderForm,
    ProcedureForm,
    ReasonForm,
    ScheduleForm,
)
from nephro.exams.lifecycle import IllegalTransition, State
from nephro.exams.models import ChecklistItem, Order, Procedure
from nephro.lib import once
from nephro.lib.paging import page_of
from nephro.lib.steps import form_step
from nephro.patients.access import visible_patients
from nephro.patients.search import matching


def get_exam(request, pk: int, action: str = "exam.read"):
    """The exam if this user may see it (404 otherwise), with the read audited."""
    exam = get_object_or_404(visible_exams(request.user), pk=pk)
    record(Actor.of(request), action, exam)
    return exam


def workflow_action(view):
    """Run a POST action; a refused step becomes a clear message and changes nothing."""

    @wraps(view)
    @require_POST
    def wrapper(request, pk, *args, **kwargs):
        get_object_or_404(visible_exams(request.user), pk=pk)
        try:
            response = view(request, pk, *args, **kwargs)
        except (services.WorkflowError, IllegalTransition) as exc:
            messages.error(request, f"Not done: {exc}.")
            return _refresh(request) or redirect("exams:detail", pk=pk)
        return response or redirect("exams:detail", pk=pk)

    return wrapper


def _refresh(request) -> HttpResponse | None:
    """For an htmx request: ask the page to reload itself (so messages and steps show)."""
    if not request.headers.get("HX-Request"):
        return None
    response = HttpResponse(status=204)
    response["HX-Refresh"] = "true"
    return response


def _checklist(exam) -> list[tuple[str, str, object]]:
    done = {step.item: step for step in exam.checklist.select_related("done_by")}
    return [(item, label, done.get(item)) for item, label in ChecklistItem.choices]


def worklist(request):
    exams = selectors.worklist(request.user)
    state, day = request.GET.get("state", ""), request.GET.get("day", "")
    query = request.GET.get("q", "").strip()
    if state in State.values:
        exams = exams.filter(state=state)
    if day == "today":
        exams = exams.filter(selectors.scheduled_on(timezone.localdate()))
    if query:
        exams = matching(exams, query, patient="patient__", accession="accession_number")
    page, keep = page_of(request, exams.order_by("scheduled_at", "pk"), bounded=True)
    record(
        Actor.of(request),
        "worklist.read",
        detail={"state": state, "day": day, "q": query, "found": page.paginator.total},
    )
    context = {"page": page, "keep": keep, "states": State.choices, "state": state, "day": day}
    return render(request, "exams/worklist.html", {**context, "q": query})


def order(request, patient_pk: int):
    patient = get_object_or_404(visible_patients(request.user), pk=patient_pk)
    drawn = once.draw(request, Order)
    form = OrderForm(
        request.POST or None,
        patient=patient,
        user=request.user,
        initial={"submission": drawn.token},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            exams = services.create_order(
                Actor.of(request),
                patient=patient,
                referrer=form.referrer(),
                sides=form.sides(),
                tubes=form.tubes(),
                indication=data["indication"],
                clinical_question=data["clinical_question"],
                urgency=data["urgency"],
                patient_class=data["patient_class"],
                submission=data["submission"],
            )
        except once.AlreadySubmitted as exc:
            return once.show_previous(request, exc.record.get_absolute_url())
        messages.success(request, f"Order placed: {', '.join(e.accession_number for e in exams)}.")
        return redirect("exams:detail", pk=exams[0].pk)
    record(Actor.of(request), "patient.read", patient)
    return render(
        request,
        "exams/order.html",
        {"form": form, "patient": patient, "once": drawn},
        status=400 if form.errors else 200,
    )


def detail(request, pk: int):
    exam = get_exam(request, pk)
    procedure = Procedure.objects.filter(exam=exam).first()
    context = {
        "exam": exam,
        "flags": exam.flags.filter(active=True).select_related("decided_by"),
        "checklist": _checklist(exam),
        "procedure": procedure,
        "dose_flags": dose_flags(procedure.ka_r_mgy) if procedure else [],
        "screening": getattr(exam, "screening", None),
        "findings": getattr(exam, "findings", None),
        "report": getattr(exam, "report", None),
        "disposition": getattr(exam, "disposition", None),
        "schedule_form": ScheduleForm(),
        "checkin_form": CheckInForm(),
        "reason_form": ReasonForm(),
        "State": State,
    }
    return render(request, "exams/detail.html", context)


def _form_action(request, pk, form_class, template, act, success):
    """The small exam steps: one form, one service call, back to the exam."""
    exam = get_exam(request, pk)
    return form_step(
        request,
        form_class(request.POST or None),
        lambda data: act(exam, data),
        success=success,
        done=reverse("exams:detail", args=[pk]),
        template=template,
        context={"exam": exam},
        prefix="Not done",
    )


def schedule(request, pk: int):
    exam = get_exam(request, pk)
    form = ScheduleForm(request.POST or None)

    def act(data):
        try:
            services.schedule(
                Actor.of(request),
                exam.pk,
                when=data["when"],
                room=data["room"],
                ae_title=data["ae_title"],
                allow_clash=data["book_anyway"],
            )
        except rooms.RoomClash:
            form.offer_double_booking()
            raise

    return form_step(
        request,
        form,
        act,
        success="Scheduled: the exam is now on the modality worklist.",
        done=exam.get_absolute_url(),
        template="exams/form.html",
        context={"exam": exam},
        prefix="Not done",
    )


def link_tube(request, pk: int):
    exam = get_exam(request, pk)
    form = LinkTubeForm(request.POST or None, exam=exam)
    return form_step(
        request,
        form,
        lambda data: services.link_tube(
            Actor.of(request),
            exam.pk,
            tube_id=None if data["tube"] == form.NEW else int(data["tube"]),
            new_tube=data.get("new_tube"),
        ),
        success="Tube linked: the tube decision will update its record.",
        done=exam.get_absolute_url(),
        template="exams/tube.html",
        context={"exam": exam},
        prefix="Not linked",
    )


def room_day(request):
    """Every room's bookings on one day, with double bookings marked."""
    form = DayForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "exams/rooms.html", {"form": form}, status=400)
    day = form.cleaned_data["day"] if request.GET else timezone.localdate()
    by_room = rooms.day_by_room(day)
    record(Actor.of(request), "rooms.read", detail={"day": day.isoformat()})
    count = sum(len(rows) for rows in by_room.values())
    context = {"form": form, "day": day, "rooms": by_room, "count": count}
    return render(request, "exams/rooms.html", context)


def check_in(request, pk: int):
    return _form_action(
        request,
        pk,
        CheckInForm,
        "exams/form.html",
        lambda exam, d: services.check_in(
            Actor.of(request), exam.pk, mrn=d["mrn"], birth_date=d["birth_date"]
        ),
        "Identity confirmed with two identifiers; patient checked in.",
    )


def hold(request, pk: int):
    return _form_action(
        request,
        pk,
        ReasonForm,
        "exams/form.html",
        lambda exam, d: services.hold(Actor.of(request), exam.pk, d["reason"]),
        "Exam put on hold for a radiologist's decision.",
    )


def resume(request, pk: int):
    return _form_action(
        request,
        pk,
        ReasonForm,
        "exams/form.html",
        lambda exam, d: services.resume(Actor.of(request), exam.pk, d["reason"]),
        "Hold released.",
    )


def cancel(request, pk: int):
    return _form_action(
        request,
        pk,
        ReasonForm,
        "exams/form.html",
        lambda exam, d: services.cancel(Actor.of(request), exam.pk, d["reason"]),
        "Exam cancelled.",
    )


@workflow_action
def checklist(request, pk: int):
    item = request.POST.get("item", "")
    if item not in ChecklistItem.values:
        # Bad input, not a refused step: the exam page again, with the message, as 400.
        messages.error(request, "Not done: choose a step of the checklist.")
        response = detail(request, pk)
        response.status_code = 400
        return response
    exam = services.tick_checklist(Actor.of(request), pk, item)
    if request.headers.get("HX-Request") and exam.state == State.ARRIVED:
        # Only the checklist changes: swap it in place.
        return render(
            request, "exams/_checklist.html", {"exam": exam, "checklist": _checklist(exam)}
        )
    if exam.state == State.PREPARED:
        messages.success(request, "Checklist complete: the study can start.")
    return _refresh(request)


@workflow_action
def start(request, pk: int):
    services.start(Actor.of(request), pk)
    messages.success(request, "Study started.")


@workflow_action
def complete(request, pk: int):
    services.complete(Actor.of(request), pk)
    messages.success(request, "Study completed: ready for findings.")


@workflow_action
def close(request, pk: int):
    services.close(Actor.of(request), pk)
    messages.success(request, "Exam closed.")


def procedure(request, pk: int):
    exam = get_exam(request, pk)
    instance = Procedure.objects.filter(exam=exam).first() or Procedure(exam=exam)
    form = ProcedureForm(request.POST or None, instance=instance)
    return form_step(
        request,
        form,
        lambda data: services.save_procedure(Actor.of(request), exam.pk, form.values()),
        success="Procedure record saved.",
        done=reverse("exams:detail", args=[pk]),
        template="exams/procedure.html",
        context={"exam": exam},
    )
