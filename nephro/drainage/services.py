"""Queue, run and review drainage analyses. The analysis itself is nephro.analysis."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from nephro.audit.actor import WORKER, Actor
from nephro.audit.services import record
from nephro.dicom.ingest import stored_path
from nephro.dicom.models import Instance  # the DICOM index
from nephro.drainage.models import AnalysisReview, AnalysisState, DrainageAnalysis, ReviewDecision
from nephro.exams.models import Exam
from nephro.exams.services import WorkflowError
from nephro.jobs.queue import enqueue

if TYPE_CHECKING:  # the analysis (numpy, scipy, matplotlib) loads only when it runs
    from nephro.analysis import AnalysisResult, Outlines

log = logging.getLogger(__name__)


def analysis_dir(exam) -> Path:
    return Path(settings.VAR_DIR) / "analysis" / str(exam.pk)


def request_analysis(
    actor: Actor, exam, *, source: str = "dicom", delay_s: float | None = None
) -> DrainageAnalysis:
    """Queue an analysis of the exam's images, unless one is already waiting to start."""
    with transaction.atomic():
        waiting = (
            exam.drainage_analyses.select_for_update().filter(state=AnalysisState.QUEUED).first()
        )
        if waiting is not None:
            return waiting
        analysis = DrainageAnalysis.objects.create(exam=exam, source=source)
        if delay_s is None:
            delay_s = settings.NEPHRO_ANALYSIS_SETTLE_SECONDS
        # One exam's analyses never run at once, whichever worker takes them (nephro.jobs).
        lock = f"exam-{exam.pk}"
        enqueue("drainage.analyze", delay_s=delay_s, lock=lock, analysis_id=analysis.pk)
        record(actor, "drainage.request", analysis, detail={"source": source})
    return analysis


def analyse_when_images_arrive(sender, *, actor: Actor, exam, **kwargs) -> None:
    """images_linked receiver: the DICOM side tells us, without importing this app."""
    request_analysis(actor, exam)


def run_analysis(analysis_id: int, paths: list[Path]) -> DrainageAnalysis:
    """Analyse the given files; store the verdict, the metrics and the evidence picture."""
    from nephro.analysis import analyze_paths

    analysis = DrainageAnalysis.objects.select_related("exam").get(pk=analysis_id)
    DrainageAnalysis.objects.filter(pk=analysis_id).update(state=AnalysisState.RUNNING)
    result = analyze_paths([str(p) for p in paths], side=analysis.exam.side)
    _store(analysis, result, len(paths))
    record(
        WORKER,
        "drainage.result",
        analysis,
        detail={"verdict": analysis.verdict, "files": len(paths)},
    )
    return analysis


def correct_analysis(
    actor: Actor, analysis: DrainageAnalysis, outlines: Outlines, *, reason: str
) -> DrainageAnalysis:
    """Run the analysis again on the radiologist's outlines, in this request (the
    analysis takes about a second), and keep it as a new analysis linked to the one it
    corrects, which stays unchanged. Nothing is stored when the outlines cannot be used.

    Raises ``WorkflowError`` (analysis not finished or not the current one) or
    ``OutlineError`` (outlines that do not fit these images).
    """
    from nephro.analysis import analyze_paths

    exam = analysis.exam
    _check_current(exam, analysis)
    paths = image_paths(exam)
    result = analyze_paths([str(p) for p in paths], side=exam.side, outlines=outlines)
    with transaction.atomic():
        Exam.objects.select_for_update().filter(pk=exam.pk).first()
        _check_current(exam, analysis)
        corrected = DrainageAnalysis.objects.create(
            exam=exam,
            source="correction",
            corrects=analysis,
            outlines=outlines.to_json(),
            corrected_by=actor.user,
            correction_reason=reason.strip(),
            state=AnalysisState.RUNNING,
        )
        _store(corrected, result, len(paths))
        record(
            actor,
            "drainage.correct",
            corrected,
            detail={
                "corrects": analysis.pk,
                "regions": sorted(k for k in outlines.to_json() if k != "bladder_in_field"),
                "bladder_in_field": outlines.bladder_in_field,
                "verdict": corrected.verdict,
                "was": analysis.verdict,
            },
        )
    return corrected


def _check_current(exam: Exam, analysis: DrainageAnalysis) -> None:
    if analysis.state != AnalysisState.DONE:
        raise WorkflowError("only a finished analysis can be corrected")
    current = exam.drainage_analyses.first()
    if current is None or current.pk != analysis.pk:
        raise WorkflowError("a newer analysis exists: reload the images and correct that one")


def _store(analysis: DrainageAnalysis, result: AnalysisResult, files: int) -> None:
    """Keep the result and draw its evidence picture, captioned with whose outlines."""
    from nephro.analysis import render_png

    out = analysis_dir(analysis.exam) / f"{analysis.pk}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        render_png(result, out)
        _caption(out, analysis.used_outlines())
        picture = str(out)
    except Exception:  # the numbers stand without the picture
        log.exception("could not draw the evidence for analysis %s", analysis.pk)
        picture = ""
    data = result.to_dict()
    analysis.state = AnalysisState.DONE
    analysis.file_count = files
    analysis.verdict = data["verdict"]
    analysis.confidence = data.get("confidence")
    analysis.result = data
    analysis.picture = picture
    analysis.finished_at = timezone.now()
    analysis.save()


def _caption(png: Path, text: str) -> None:
    """Write ``text`` in a band above the picture."""
    with Image.open(png) as picture:
        picture.load()
    band = 34
    out = Image.new("RGB", (picture.width, picture.height + band), "white")
    out.paste(picture.convert("RGB"), (0, band))
    ImageDraw.Draw(out).text((12, 6), text, fill="black", font=ImageFont.load_default(size=20))
    out.save(png, format="PNG")


def fail_analysis(analysis_id: int, message: str) -> None:
    DrainageAnalysis.objects.filter(pk=analysis_id).update(
        state=AnalysisState.FAILED, error=message[:2000], finished_at=timezone.now()
    )


def review(
    actor: Actor, analysis: DrainageAnalysis, *, decision: str, verdict: str, reason: str
) -> AnalysisReview:
    if analysis.state != AnalysisState.DONE:
        raise WorkflowError("the analysis has not finished")
    if hasattr(analysis, "review"):
        raise WorkflowError("this suggestion was already reviewed")
    if decision == ReviewDecision.CONFIRM:
        verdict = analysis.verdict
    elif not reason.strip():
        raise WorkflowError("an override needs a reason")
    if verdict == analysis.verdict and decision == ReviewDecision.OVERRIDE:
        raise WorkflowError("an override must choose a different verdict")
    try:
        with transaction.atomic():  # the one-to-one row is the natural key: one review
            item = AnalysisReview.objects.create(
                analysis=analysis,
                decision=decision,
                verdict=verdict,
                reason=reason,
                reviewed_by=actor.user,
            )
    except IntegrityError:
        raise WorkflowError("this suggestion was already reviewed") from None
    record(
        actor,
        "drainage.review",
        analysis,
        detail={"decision": decision, "verdict": verdict, "suggested": analysis.verdict},
    )
    return item


def image_paths(exam) -> list[Path]:
    """The stored image files of this exam (dose reports and other non-images left out)."""

    rows = Instance.objects.filter(exam=exam, has_pixels=True).order_by("received_at", "pk")
    return [stored_path(row) for row in rows]
