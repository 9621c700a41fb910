"""Background work for the drainage analysis (run by `nephro worker`)."""

from nephro.drainage import services
from nephro.drainage.models import AnalysisState, DrainageAnalysis
from nephro.jobs.queue import PermanentError, job


@job("drainage.analyze", max_attempts=2)
def analyze(analysis_id: int) -> None:
    """Run the drainage analysis on an exam's images."""
    analysis = DrainageAnalysis.objects.select_related("exam").filter(pk=analysis_id).first()
    if analysis is None or analysis.state == AnalysisState.DONE:
        return
    paths = services.image_paths(analysis.exam)
    if not paths:
        services.fail_analysis(analysis_id, "no images of this exam are stored")
        raise PermanentError("no images")
    try:
        services.run_analysis(analysis_id, paths)
    except Exception as exc:
        services.fail_analysis(analysis_id, f"{type(exc).__name__}: {exc}")
        raise
