import json

from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.drainage import services
from nephro.drainage.forms import ReviewForm
from nephro.drainage.models import AnalysisState
from nephro.exams.services import WorkflowError
from nephro.exams.views import get_exam


def _latest(exam):
    return exam.drainage_analyses.select_related("review", "review__reviewed_by").first()


def picture(request, pk: int):
    exam = get_exam(request, pk, action="drainage.picture")
    analysis = _latest(exam)
    if analysis is None or not analysis.picture:
        raise Http404("no analysis picture")
    try:
        return FileResponse(open(analysis.picture, "rb"), content_type="image/png")
    except FileNotFoundError as exc:
        raise Http404("the picture is no longer on disk") from exc


@require_POST
def rerun(request, pk: int):
    exam = get_exam(request, pk)
    services.request_analysis(Actor.of(request), exam, source="manual", delay_s=0)
    messages.success(request, "Analysis queued; the result appears here when it is ready.")
    return redirect("exams:detail", pk=pk)


def review(request, pk: int):
    exam = get_exam(request, pk)
    analysis = _latest(exam)
    if analysis is None or analysis.state != AnalysisState.DONE:
        raise Http404("no finished analysis")
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.review(Actor.of(request), analysis, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, f"Not saved: {exc}.")
        else:
            messages.success(request, "Your reading of the drainage was recorded.")
            return redirect("reports:findings", pk=pk)
    record(Actor.of(request), "drainage.read", analysis)
    return render(
        request,
        "drainage/review.html",
        {
            "exam": exam,
            "analysis": analysis,
            "form": form,
            "versions": exam.drainage_analyses.filter(state=AnalysisState.DONE).select_related(
                "corrected_by"
            ),
        },
        status=400 if form.errors else 200,
    )


def outlines(request, pk: int):
    """The current analysis's outlines for the viewer's overlays (JSON)."""
    exam = get_exam(request, pk)
    analysis = exam.drainage_analyses.select_related("corrected_by").first()
    if analysis is None or analysis.state != AnalysisState.DONE:
        return JsonResponse({"analysis": None})
    record(Actor.of(request), "drainage.outlines.read", analysis)
    return JsonResponse(
        {
            "analysis": analysis.pk,
            "verdict": analysis.get_verdict_display(),
            "used": analysis.used_outlines(),
            "outlines": analysis.result.get("outlines") or {},
            "bladder_in_field": analysis.outlines.get("bladder_in_field", True),
        }
    )


@require_POST
def correct(request, pk: int):
    """Recompute the current analysis from the radiologist's outlines (JSON in and out:
    400 with the reason when the outlines cannot be used, and nothing is stored)."""
    from nephro.analysis import OutlineError, parse_outlines

    exam = get_exam(request, pk)
    try:
        body = json.loads(request.body or b"")
        if not isinstance(body, dict):
            raise ValueError("the request must be a JSON object")
        analysis = exam.drainage_analyses.filter(pk=body.get("analysis")).first()
        if analysis is None or not analysis.result.get("outlines"):
            raise ValueError("no analysis with outlines to correct")
        shape = tuple(analysis.result["outlines"]["source_shape"])
        corrected = services.correct_analysis(
            Actor.of(request),
            analysis,
            parse_outlines(body.get("outlines"), (int(shape[0]), int(shape[1]))),
            reason=str(body.get("reason") or "")[:2000],
        )
    except (ValueError, TypeError, WorkflowError) as exc:  # OutlineError, bad JSON too
        kind = "outlines" if isinstance(exc, OutlineError) else "request"
        return JsonResponse({"error": f"Not recomputed ({kind}): {exc}."}, status=400)
    return JsonResponse(
        {
            "analysis": corrected.pk,
            "verdict": corrected.get_verdict_display(),
            "confidence": corrected.confidence,
            "reasons": corrected.result.get("reasons", []),
            "used": corrected.used_outlines(),
            "outlines": corrected.result.get("outlines") or {},
        }
    )
