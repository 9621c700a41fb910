"""The patient pages: the list and search, registration, a patient with their exams, and
the administrator's merge. They show exams, so they sit above the exams app (in front)."""

from django.contrib import messages
from django.db.models import Count
from django.db.models.functions import Upper
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams.access import visible_exams
from nephro.lib import once
from nephro.lib.paging import page_of
from nephro.patients import merge, services
from nephro.patients.access import visible_patients
from nephro.patients.forms import MergeForm, PatientForm
from nephro.patients.models import Patient, PatientMerge
from nephro.patients.search import matching


def patient_list(request):
    query = request.GET.get("q", "").strip()
    patients = visible_patients(request.user).filter(merged_into__isnull=True)
    if query:
        patients = matching(patients, query, accession="exams__accession_number")
    # No DISTINCT here: the search is a pk IN (...) and a referrer's patients come
    # distinct already; DISTINCT would sort every row before the page is read.
    patients = patients.order_by("family_name", "given_name", "pk")
    page, keep = page_of(request, patients, bounded=True)
    record(Actor.of(request), "patient.search", detail={"q": query, "found": page.paginator.total})
    return render(request, "patients/list.html", {"page": page, "keep": keep, "q": query})


def create(request):
    drawn = once.draw(request, Patient)
    form = PatientForm(request.POST or None, initial={"submission": drawn.token})
    matches = []
    if request.method == "POST" and form.is_valid():
        try:
            done = services.register_patient(
                Actor.of(request),
                form.details(),
                submission=form.cleaned_data["submission"],
                different_person=form.cleaned_data["different_person"],
            )
        except once.AlreadySubmitted as exc:
            return once.show_previous(request, exc.record.get_absolute_url())
        except services.PossibleDuplicate as exc:
            form.add_error(None, f"Not registered yet: {exc}.")
            form.ask_if_different()
            matches = exc.matches if request.user.role != "referrer" else []
        except services.PatientError as exc:
            form.add_error(None, f"Not registered: {exc}.")
        else:
            messages.success(request, _registered_message(done))
            return redirect(done.patient.get_absolute_url())
    context = {"form": form, "matches": matches, "once": drawn}
    return render(request, "patients/create.html", context, status=400 if form.errors else 200)


def _registered_message(done: services.Registration) -> str:
    if done.existing:
        return f"{done.patient} is already registered: you can order for this patient now."
    return f"Patient {done.patient} registered."


def detail(request, pk: int):
    patient: Patient = get_object_or_404(visible_patients(request.user), pk=pk)
    if patient.merged_into_id is not None:
        messages.info(request, f"MRN {patient.mrn} was merged into this record.")
        return redirect(patient.merged_into.get_absolute_url())
    record(Actor.of(request), "patient.read", patient)
    exams = visible_exams(request.user).filter(patient=patient).order_by("-created_at")
    context = {
        "patient": patient,
        "exams": exams,
        "tubes": patient.tubes.all(),
        "merges": patient.merges_in.filter(reversed_at=None).select_related("merged", "merged_by"),
    }
    return render(request, "patients/detail.html", context)


def merge_records(request):
    """An administrator makes two records of one person one, after a confirmation."""
    form = MergeForm(request.POST or None)
    pair = None
    if request.method == "POST" and form.is_valid():
        pair = _pair(form)
        if pair and form.cleaned_data["confirm"]:
            try:
                done = merge.merge_patients(
                    Actor.of(request),
                    kept_id=pair[0].pk,
                    merged_id=pair[1].pk,
                    reason=form.cleaned_data["reason"],
                )
            except services.PatientError as exc:
                form.add_error(None, f"Not merged: {exc}.")
            else:
                messages.success(request, f"MRN {done.merged.mrn} merged into {done.kept.mrn}.")
                return redirect("patients:merge")
        elif pair:
            form.add_error("confirm", "Check both records below, then tick to confirm.")
    record(Actor.of(request), "patient.merge.read", detail={"pair": [p.mrn for p in pair or []]})
    context = {
        "form": form,
        "pair": pair,
        "candidates": _duplicate_groups(),
        "merges": PatientMerge.objects.select_related("kept", "merged", "merged_by")[:50],
    }
    return render(request, "patients/merge.html", context, status=400 if form.errors else 200)


@require_POST
def unmerge(request, pk: int):
    """An administrator reverses a merge: what moved goes back (patients.merge.unmerge)."""
    try:
        done = merge.unmerge(Actor.of(request), pk)
    except services.PatientError as exc:
        messages.error(request, f"Not reversed: {exc}.")
    else:
        messages.success(request, f"MRN {done.merged.mrn} is a record of its own again.")
    return redirect("patients:merge")


def _pair(form: MergeForm) -> tuple[Patient, Patient] | None:
    found = []
    for field in ("kept_mrn", "merged_mrn"):
        patient = Patient.objects.filter(
            mrn__iexact=form.cleaned_data[field].strip(), merged_into__isnull=True
        ).first()
        if patient is None:
            form.add_error(field, "No record with this MRN (or it was merged already).")
        found.append(patient)
    if None in found:
        return None
    if found[0] == found[1]:
        form.add_error("merged_mrn", "Choose two different records.")
        return None
    return found[0], found[1]


def _duplicate_groups(limit: int = 50) -> list[list[Patient]]:
    """Records sharing a name and date of birth (any case): candidates for a merge."""
    keys = (
        Patient.objects.filter(merged_into__isnull=True)
        .annotate(f=Upper("family_name"), g=Upper("given_name"))
        .values("f", "g", "birth_date")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by("f", "g")[:limit]
    )
    return [
        list(
            Patient.objects.filter(
                family_name__iexact=k["f"],
                given_name__iexact=k["g"],
                birth_date=k["birth_date"],
                merged_into__isnull=True,
            ).annotate(exam_count=Count("exams"))
        )
        for k in keys
    ]
