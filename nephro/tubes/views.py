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
from nephro.lib.steps import form_step
from nephro.patients.access import visible_patients
from nephro.tubes import services
from nephro.tubes.forms import CappingCloseForm, CappingStartForm, TubeForm
from nephro.tubes.models import CappingTrial, TrialOutcome, Tube, TubeStatus


def registry(request):
    today = timezone.localdate()
    tubes = Tube.objects.exclude(status=TubeStatus.REMOVED).select_related("patient")
    rows = [(tube, tube.due_state(today)) for tube in tubes.order_by("exchange_due_on")]
    record(Actor.of(request), "tube.registry.read", detail={"count": len(rows)})
    return render(request, "tubes/registry.html", {"rows": rows, "today": today})


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
    overdue, due_soon = services.due_digest(today)
    record(
        Actor.of(request),
        "tube.due.read",
        detail={"overdue": len(overdue), "due_soon": len(due_soon)},
    )
    context = {
        "overdue": [(t, "overdue") for t in overdue],
        "due_soon": [(t, "due_soon") for t in due_soon],
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
    today = timezone.localdate()
    ongoing = CappingTrial.objects.filter(outcome=TrialOutcome.ONGOING).select_related(
        "tube__patient"
    )
    closed = (
        CappingTrial.objects.exclude(outcome=TrialOutcome.ONGOING)
        .select_related("tube__patient")
        .order_by("-ended_on", "-pk")[:50]
    )
    capped = Tube.objects.filter(status=TubeStatus.CAPPED).exclude(
        capping_trials__outcome=TrialOutcome.ONGOING
    )
    can_start = Tube.objects.filter(status=TubeStatus.IN_PLACE).select_related("patient")
    record(Actor.of(request), "capping.read", detail={"ongoing": ongoing.count()})
    context = {
        "ongoing": [(t, t.is_overdue(today)) for t in ongoing.order_by("planned_end_on")],
        "closed": closed,
        "capped_without_trial": capped.select_related("patient"),
        "can_start": can_start.order_by("patient__family_name")[:200],
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
