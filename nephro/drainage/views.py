from django.contrib import messages
from django.http import FileResponse, Http404
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
        {"exam": exam, "analysis": analysis, "form": form},
        status=400 if form.errors else 200,
    )
