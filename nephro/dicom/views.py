"""Image pages: the viewer, rendered frames and thumbnails, and reconciliation."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.dicom import ingest
from nephro.dicom import reconcile as reconciliation
from nephro.dicom import render as rendering
from nephro.dicom.models import Instance
from nephro.exams.access import visible_exams
from nephro.exams.services import WorkflowError
from nephro.exams.views import get_exam


def _number(request, name: str, default=None, kind=float):
    try:
        return kind(request.GET[name])
    except (KeyError, ValueError):
        return default


def _instance(request, exam) -> Instance:
    instance_pk = _number(request, "instance", kind=int)
    if instance_pk is None:
        raise Http404("no image chosen")
    return get_object_or_404(Instance, pk=instance_pk, exam=exam, has_pixels=True)


def _audit_image_read(request, exam, instance: Instance) -> None:
    """One audit row per image per session, not one per frame of a playing cine loop."""
    seen = request.session.get("dicom_read", [])
    if instance.pk not in seen:
        record(
            Actor.of(request), "dicom.image.read", exam, detail={"sop": instance.sop_instance_uid}
        )
        request.session["dicom_read"] = [*seen[-200:], instance.pk]


def viewer(request, pk: int):
    exam = get_exam(request, pk, action="dicom.viewer.read")
    images = list(exam.instances.filter(has_pixels=True))
    chosen = _number(request, "instance", kind=int)
    current = next((i for i in images if i.pk == chosen), images[0] if images else None)
    frame = max(
        0, min(_number(request, "frame", 0, int), (current.number_of_frames - 1) if current else 0)
    )
    context = {
        "exam": exam,
        "images": images,
        "current": current,
        "frame": frame,
        "wc": _number(request, "wc"),
        "ww": _number(request, "ww"),
    }
    return render(request, "dicom/viewer.html", context)


def frame_png(request, pk: int):
    exam = get_object_or_404(visible_exams(request.user), pk=pk)
    instance = _instance(request, exam)
    _audit_image_read(request, exam, instance)
    png, window, _frames = rendering.render(
        ingest.stored_path(instance),
        _number(request, "frame", 0, int),
        _number(request, "wc"),
        _number(request, "ww"),
    )
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Window"] = f"{window.center:g}/{window.width:g}"
    return response


def thumbnail_png(request, pk: int):
    exam = get_object_or_404(visible_exams(request.user), pk=pk)
    instance = _instance(request, exam)
    _audit_image_read(request, exam, instance)
    cached = settings.NEPHRO_DICOM_CACHE_DIR / instance.thumbnail if instance.thumbnail else None
    if cached is not None and cached.is_file():
        png = cached.read_bytes()
    else:  # the worker has not got to it yet
        png = rendering.thumbnail(ingest.stored_path(instance))
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def reconcile(request):
    studies = reconciliation.unmatched_studies()
    record(Actor.of(request), "dicom.unmatched.read", detail={"studies": len(studies)})
    exams = visible_exams(request.user).exclude(state="cancelled")
    for study in studies:
        study["candidates"] = (
            list(exams.filter(patient__mrn=study["patient_id"]).order_by("-scheduled_at")[:10])
            if study["patient_id"]
            else []
        )
    return render(request, "dicom/reconcile.html", {"studies": studies})


@require_POST
def link(request):
    study_uid = request.POST.get("study_uid", "")
    accession = request.POST.get("accession", "").strip()
    exam = visible_exams(request.user).filter(accession_number=accession).first()
    if exam is None:
        messages.error(request, f"Not linked: no exam with accession number {accession!r}.")
        return redirect("dicom:reconcile")
    try:
        count = reconciliation.link(Actor.of(request), study_uid=study_uid, exam=exam)
    except WorkflowError as exc:
        messages.error(request, f"Not linked: {exc}.")
        return redirect("dicom:reconcile")
    messages.success(request, f"{count} image(s) linked to {exam.accession_number}.")
    return redirect("dicom:reconcile")


@require_POST
def upload(request, pk: int):
    """Images brought on media or exported from a unit without DICOM networking."""
    exam = get_exam(request, pk)
    files = request.FILES.getlist("files")
    if not files:
        messages.error(request, "Not stored: choose one or more DICOM files.")
        return redirect("exams:detail", pk=pk)
    stored, refused = reconciliation.upload_to_exam(Actor.of(request), exam, files)
    if stored:
        messages.success(
            request,
            f"{stored} file{'s' if stored != 1 else ''} stored; "
            "they are analysed in the background.",
        )
    for name, why in refused:
        messages.error(request, f"Not stored: {name}: {why}.")
    return redirect("exams:detail", pk=pk)
