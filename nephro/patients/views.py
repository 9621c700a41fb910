from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams.access import visible_exams
from nephro.patients.access import visible_patients
from nephro.patients.forms import PatientForm
from nephro.patients.models import Patient


def patient_list(request):
    patients = visible_patients(request.user)
    query = request.GET.get("q", "").strip()
    if query:
        patients = patients.filter(
            Q(mrn__icontains=query)
            | Q(family_name__icontains=query)
            | Q(given_name__icontains=query)
        )
    patients = patients.order_by("family_name", "given_name")[:200]
    record(Actor.of(request), "patient.search", detail={"q": query})
    return render(request, "patients/list.html", {"patients": patients, "q": query})


def create(request):
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patient = form.save(commit=False)
        patient.registered_by = request.user
        patient.save()
        record(Actor.of(request), "patient.create", patient)
        messages.success(request, f"Patient {patient} registered.")
        return redirect("patients:detail", pk=patient.pk)
    return render(
        request, "patients/create.html", {"form": form}, status=400 if form.errors else 200
    )


def detail(request, pk: int):
    patient: Patient = get_object_or_404(visible_patients(request.user), pk=pk)
    record(Actor.of(request), "patient.read", patient)
    exams = visible_exams(request.user).filter(patient=patient).order_by("-created_at")
    return render(
        request,
        "patients/detail.html",
        {
            "patient": patient,
            "exams": exams,
            "tubes": patient.tubes.all(),
        },
    )
