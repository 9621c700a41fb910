from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from nephro.audit.services import record
from nephro.exams.access import visible_patients
from nephro.tubes import services
from nephro.tubes.forms import TubeForm
from nephro.tubes.models import Tube, TubeStatus


def registry(request):
    today = timezone.localdate()
    tubes = Tube.objects.exclude(status=TubeStatus.REMOVED).select_related("patient")
    rows = [(tube, tube.due_state(today)) for tube in tubes.order_by("exchange_due_on")]
    record(request, "tube.registry.read", detail={"count": len(rows)})
    return render(request, "tubes/registry.html", {"rows": rows, "today": today})


def create(request, patient_pk: int):
    patient = get_object_or_404(visible_patients(request.user), pk=patient_pk)
    form = TubeForm(request.POST or None, instance=Tube(patient=patient))
    if request.method == "POST" and form.is_valid():
        services.register_tube(request, form)
        messages.success(request, "Tube added to the registry.")
        return redirect("patients:detail", pk=patient.pk)
    record(request, "patient.read", patient)
    return render(
        request,
        "tubes/form.html",
        {"form": form, "patient": patient},
        status=400 if form.errors else 200,
    )


def edit(request, pk: int):
    tube = get_object_or_404(Tube.objects.select_related("patient"), pk=pk)
    form = TubeForm(request.POST or None, instance=tube)
    if request.method == "POST" and form.is_valid():
        services.update_tube(request, form)
        messages.success(request, "Tube updated.")
        return redirect("patients:detail", pk=tube.patient_id)
    record(request, "tube.read", tube)
    return render(
        request,
        "tubes/form.html",
        {"form": form, "patient": tube.patient},
        status=400 if form.errors else 200,
    )
