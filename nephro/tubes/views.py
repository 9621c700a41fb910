import csv

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.lib import once
from nephro.lib.paging import page_of
from nephro.lib.steps import form_step
from nephro.patients.access import visible_patients
from nephro.tubes import services
from nephro.tubes.forms import CappingCloseForm, CappingStartForm, TubeForm
from nephro.tubes.models import CappingTrial, TrialOutcome, Tube, TubeStatus


def registry(request):
    today = timezone.localdate()
    tubes = Tube.objects.exclude(status=TubeStatus.REMOVED).select_related("patient")
    page, keep = page_of(request, tubes.order_by("exchange_due_on", "pk"))
    record(
        Actor.of(request),
        "tube.registry.read",
        detail={"count": page.paginator.count, "page": page.number},
    )
    context = {"page": page, "keep": keep, "rows": [(t, t.due_state(today)) for t in page]}
    return render(request, "tubes/registry.html", context)


def create(request, patient_pk: int):
    patient = get_object_or_404(visible_patients(request.user), pk=patient_pk)
    drawn = once.draw(request, Tube)
    form = TubeForm(
        request.POST or None, instance=Tube(patient=patient), initial={"submission": drawn.token}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.register_tube(
                Actor.of(request),
                patient.pk,
                form.details(),
                submission=form.cleaned_data["submission"],
            )
        except once.AlreadySubmitted:
            return once.show_previous(request, patient.get_absolute_url())
        messages.success(request, "Tube added to the registry.")
        return redirect("patients:detail", pk=patient.pk)
    record(Actor.of(request), "patient.read", patient)
    return render(
        request,
        "tubes/form.html",
        {"form": form, "patient": patient, "once": drawn},
        status=400 if form.errors else 200,
    )


def edit(request, pk: int):
    tube = get_object_or_404(Tube.objects.select_related("patient"), pk=pk)
    form = TubeForm(request.POST or None, instance=tube)
    if request.method == "POST" and form.is_valid():
        services.update_tube(Actor.of(request), tube.pk, form.details())
        messages.success(request, "Tube updated.")
        return redirect("patients:detail", pk=tube.patient_id)
    record(Actor.of(request), "tube.read", tube)
    return render(
        request,
        "tubes/form.html",
        {"form": form, "patient": tube.patient},
        status=400 if form.errors else 200,
    )


def due(request):
    today = timezone.localdate()
    tubes = services.tubes_due(today).order_by("exchange_due_on", "pk")
    overdue, keep_overdue = page_of(
        request, tubes.filter(exchange_due_on__lt=today), param="overdue"
    )
    due_soon, keep_soon = page_of(request, tubes.filter(exchange_due_on__gte=today), param="soon")
    record(
        Actor.of(request),
        "tube.due.read",
        detail={"overdue": overdue.paginator.count, "due_soon": due_soon.paginator.count},
    )
    context = {
        "overdue": overdue,
        "keep_overdue": keep_overdue,
        "overdue_rows": [(t, "overdue") for t in overdue],
        "due_soon": due_soon,
        "keep_soon": keep_soon,
        "due_soon_rows": [(t, "due_soon") for t in due_soon],
        "days": settings.NEPHRO_TUBE_DUE_SOON_DAYS,
    }
    return render(request, "tubes/due.html", context)


def export(request):
    rows = services.registry_rows(timezone.localdate())
    record(Actor.of(request), "tube.registry.export", detail={"rows": len(rows) - 1})
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="tube-registry-{timezone.localdate():%Y-%m-%d}.csv"'
    )
    csv.writer(response).writerows(rows)
    return response


def trials(request):
    """Three lists on one page, each paged on its own (?ongoing=, ?start=, ?closed=)."""
    today = timezone.localdate()
    trials = CappingTrial.objects.select_related("tube__patient")
    ongoing, keep_ongoing = page_of(
        request,
        trials.filter(outcome=TrialOutcome.ONGOING).order_by("planned_end_on", "pk"),
        param="ongoing",
    )
    closed, keep_closed = page_of(
        request,
        trials.exclude(outcome=TrialOutcome.ONGOING).order_by("-ended_on", "-pk"),
        param="closed",
    )
    can_start, keep_start = page_of(
        request,
        Tube.objects.filter(status=TubeStatus.IN_PLACE)
        .select_related("patient")
        .order_by("patient__family_name", "patient__given_name", "pk"),
        param="start",
    )
    capped = Tube.objects.filter(status=TubeStatus.CAPPED).exclude(
        capping_trials__outcome=TrialOutcome.ONGOING
    )
    record(Actor.of(request), "capping.read", detail={"ongoing": ongoing.paginator.count})
    context = {
        "ongoing": ongoing,
        "keep_ongoing": keep_ongoing,
        "ongoing_rows": [(t, t.is_overdue(today)) for t in ongoing],
        "closed": closed,
        "keep_closed": keep_closed,
        "can_start": can_start,
        "keep_start": keep_start,
        "capped_without_trial": capped.select_related("patient"),
    }
    return render(request, "tubes/trials.html", context)


def trial_start(request, tube_pk: int):
    tube = get_object_or_404(Tube.objects.select_related("patient"), pk=tube_pk)
    today = timezone.localdate()
    record(Actor.of(request), "tube.read", tube)
    drawn = once.draw(request, CappingTrial)
    initial = {"started_on": today, "planned_end_on": today, "submission": drawn.token}
    return once.form_step(
        request,
        CappingStartForm(request.POST or None, initial=initial),
        lambda data: services.start_capping_trial(Actor.of(request), tube.pk, **data),
        success="Capping trial started; the tube is capped.",
        done=reverse("tubes:trials"),
        template="tubes/trial_form.html",
        context={
            "tube": tube,
            "title": "Start a capping trial",
            "button": "Start trial",
            "once": drawn,
        },
        refused=(services.TubeError,),
        prefix="Not started",
        previous_url=lambda trial: reverse("tubes:trials"),
    )


def trial_close(request, trial_pk: int):
    trial = get_object_or_404(CappingTrial.objects.select_related("tube__patient"), pk=trial_pk)
    record(Actor.of(request), "capping.read", trial)
    return form_step(
        request,
        CappingCloseForm(
            request.POST or None, trial=trial, initial={"ended_on": timezone.localdate()}
        ),
        lambda data: services.close_capping_trial(Actor.of(request), trial.pk, **data),
        success="Capping trial closed.",
        done=reverse("tubes:trials"),
        template="tubes/trial_form.html",
        context={
            "tube": trial.tube,
            "trial": trial,
            "title": "Close the capping trial",
            "button": "Close trial",
        },
        refused=(services.TubeError,),
    )
