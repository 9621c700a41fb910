"""Image pages: the viewer, rendered frames and thumbnails, reconciliation, and the
radiologist's review of dose from devices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.dicom import dose, ingest, thumbs
from nephro.dicom import reconcile as reconciliation
from nephro.dicom import render as rendering
from nephro.dicom.models import DeviceDose, DoseAlert, Instance
from nephro.exams.access import visible_exams
from nephro.exams.models import Exam, Procedure
from nephro.exams.services import WorkflowError
from nephro.exams.views import get_exam
from nephro.lib.paging import page_of

Number = TypeVar("Number", int, float)
Model = TypeVar("Model", DeviceDose, DoseAlert)


def _number(values: Mapping[str, str], name: str, kind: Callable[[str], Number]) -> Number | None:
    """A number from the query string or a form, or None when missing or not a number."""
    try:
        return kind(values[name])
    except (KeyError, ValueError):
        return None


def _instance(request: HttpRequest, exam: Exam) -> Instance:
    instance_pk = _number(request.GET, "instance", int)
    if instance_pk is None:
        raise Http404("no image chosen")
    return get_object_or_404(Instance, pk=instance_pk, exam=exam, has_pixels=True)


def _audit_image_read(request: HttpRequest, exam: Exam, instance: Instance) -> None:
    """One audit row per image per session, not one per frame of a playing cine loop."""
    seen = request.session.get("dicom_read", [])
    if instance.pk not in seen:
        record(
            Actor.of(request), "dicom.image.read", exam, detail={"sop": instance.sop_instance_uid}
        )
        request.session["dicom_read"] = [*seen[-200:], instance.pk]


def viewer(request: HttpRequest, pk: int) -> HttpResponse:
    exam = get_exam(request, pk, action="dicom.viewer.read")
    images = list(exam.instances.filter(has_pixels=True))
    chosen = _number(request.GET, "instance", int)
    current = next((i for i in images if i.pk == chosen), images[0] if images else None)
    frame = max(
        0,
        min(
            _number(request.GET, "frame", int) or 0,
            (current.number_of_frames - 1) if current else 0,
        ),
    )
    context = {
        "exam": exam,
        "images": images,
        "current": current,
        "frame": frame,
        "wc": _number(request.GET, "wc", float),
        "ww": _number(request.GET, "ww", float),
    }
    return render(request, "dicom/viewer.html", context)


def frame_png(request: HttpRequest, pk: int) -> HttpResponse:
    exam = get_object_or_404(visible_exams(request.user), pk=pk)
    instance = _instance(request, exam)
    _audit_image_read(request, exam, instance)
    png, window, _frames = rendering.render(
        ingest.stored_path(instance),
        _number(request.GET, "frame", int) or 0,
        _number(request.GET, "wc", float),
        _number(request.GET, "ww", float),
    )
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Window"] = f"{window.center:g}/{window.width:g}"
    return response


def thumbnail_png(request: HttpRequest, pk: int) -> HttpResponse:
    exam = get_object_or_404(visible_exams(request.user), pk=pk)
    instance = _instance(request, exam)
    _audit_image_read(request, exam, instance)
    response = HttpResponse(thumbs.thumbnail_png(instance), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def reconcile(request: HttpRequest) -> HttpResponse:
    page, keep = page_of(request, reconciliation.unmatched_studies())
    record(
        Actor.of(request),
        "dicom.unmatched.read",
        detail={"studies": page.paginator.count, "page": page.number},
    )
    exams = visible_exams(request.user).exclude(state="cancelled")
    for study in page:
        mrns = [who.patient_id for who in study["patients"] if who.patient_id]
        study["candidates"] = list(
            exams.filter(Q(patient__mrn__in=mrns) | Q(accession_number__in=study["accessions"]))
            .select_related("patient")
            .order_by("-scheduled_at")[:10]
        )
    return render(request, "dicom/reconcile.html", {"page": page, "keep": keep})


@require_POST
def link(request: HttpRequest) -> HttpResponse:
    """Link a waiting study to an exam; a link the images' identity does not support is
    shown for confirmation first, and needs a reason."""
    study_uid = request.POST.get("study_uid", "")
    accession = request.POST.get("accession", "").strip()
    exam = visible_exams(request.user).filter(accession_number=accession).first()
    if exam is None:
        messages.error(request, f"Not linked: no exam with accession number {accession!r}.")
        return redirect("dicom:reconcile")
    confirming = request.POST.get("confirm") == "1"
    reason = request.POST.get("reason", "")[:500] if confirming else ""
    try:
        check = reconciliation.link(
            Actor.of(request), study_uid=study_uid, exam=exam, reason=reason
        )
    except reconciliation.NeedsConfirmation as exc:
        context = {"check": exc.check, "study_uid": study_uid, "asked": confirming}
        return render(
            request, "dicom/link_confirm.html", context, status=400 if confirming else 200
        )
    except WorkflowError as exc:
        messages.error(request, f"Not linked: {exc}.")
        return redirect("dicom:reconcile")
    count = sum(who.count for who in check.sent)
    messages.success(request, f"{count} image(s) linked to {exam.accession_number}.")
    if check.report_final:
        messages.warning(request, "The report is final: add an addendum about these images.")
        return redirect(reverse("reports:view", args=[exam.pk]) + "#addendum")
    return redirect("dicom:reconcile")


def _plural(count: int, word: str = "file") -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


@require_POST
def upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Images brought on media or exported from a unit without DICOM networking."""
    exam = get_exam(request, pk)
    limit = int(settings.NEPHRO_UPLOAD_MAX_MB * 1024 * 1024)
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        context = {"exam": exam, "limit_mb": f"{settings.NEPHRO_UPLOAD_MAX_MB:g}"}
        return render(request, "dicom/upload_refused.html", context, status=400)
    files = request.FILES.getlist("files")
    if not files:
        messages.error(request, "Not stored: choose one or more DICOM files.")
        return redirect("exams:detail", pk=pk)
    result = reconciliation.upload_to_exam(Actor.of(request), exam, files)
    _tell_upload(request, result)
    return redirect("exams:detail", pk=pk)


def _tell_upload(request: HttpRequest, result: reconciliation.UploadResult) -> None:
    """One message per outcome, each naming exactly the files it is about."""
    if result.added:
        messages.success(
            request,
            f"{_plural(len(result.added))} stored and added to this exam; "
            "they are analysed in the background.",
        )
    if result.already:
        messages.info(request, f"{_plural(len(result.already))} already stored with this exam.")
    if result.waiting:
        reasons = "; ".join(sorted({why for _name, why in result.waiting}))
        messages.warning(
            request,
            f"{_plural(len(result.waiting))} stored but not added to this exam: "
            f"{reasons}. They wait under Unmatched images for reconciliation.",
        )
    for accession in sorted({acc for _name, acc in result.elsewhere}):
        names = [name for name, acc in result.elsewhere if acc == accession]
        messages.info(
            request,
            f"{_plural(len(names))} stored with exam {accession}, the exam the files name.",
        )
    for name, why in result.refused:
        messages.error(request, f"Not stored: {name}: {why}.")


# --- The radiologist's review of dose from devices (dose.py: a person's decisions) ---


def _dose_page(
    request: HttpRequest, exam: Exam, *, error: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "exam": exam,
        "procedure": Procedure.objects.filter(exam=exam).first(),
        "evidence": list(exam.device_doses.all()),
        "alerts": dose.active_alerts(exam),
        "error": error,
    }
    return render(request, "dicom/dose.html", context, status=status)


def dose_review(request: HttpRequest, pk: int) -> HttpResponse:
    return _dose_page(request, get_exam(request, pk, action="dicom.dose.read"))


def _decide(
    request: HttpRequest,
    pk: int,
    chosen: tuple[type[Model], str],
    decide: Callable[..., object],
    done: str,
) -> HttpResponse:
    """Run a person's dose decision on the exam's device value or dose flag the form
    names (404 for anything else); without a reason nothing changes (400)."""
    model, field = chosen
    target = get_object_or_404(model, pk=_number(request.POST, field, int), exam_id=pk)
    exam = get_object_or_404(visible_exams(request.user), pk=pk)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        error = "Nothing changed: say why (the reason goes into the audit trail)."
        return _dose_page(request, exam, error=error, status=400)
    decide(Actor.of(request), target.pk, reason=reason[:300])
    messages.success(request, done)
    return redirect("dicom:dose", pk=pk)


@require_POST
def dose_accept(request: HttpRequest, pk: int) -> HttpResponse:
    """The procedure takes this device's values (an audited correction)."""
    done = "The device's values are now the procedure's dose."
    return _decide(request, pk, (DeviceDose, "evidence"), dose.accept_device_dose, done)


@require_POST
def dose_clear(request: HttpRequest, pk: int) -> HttpResponse:
    """A dose flag is dealt with (an audited decision)."""
    return _decide(request, pk, (DoseAlert, "alert"), dose.clear_alert, "The dose flag is cleared.")
