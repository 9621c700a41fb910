"""Drainage analysis of nephrostograms (pure library: numpy/scipy/pydicom, no Django).

Public API::

    from nephro.analysis import analyze_paths, render_png, generate_case

    result = analyze_paths([Path("exam/")], side="left")
    result.to_dict()            # the JSON of ``nephro analyze --json``
    render_png(result, Path("evidence.png"))
    truth = generate_case("patent", 7, Path("demo/"), size=256, max_run_frames=26)

See ``docs/analysis.md``.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from nephro.analysis.generate import GroundTruth, generate_case
from nephro.analysis.outlines import OutlineError, Outlines, parse_outlines
from nephro.analysis.phantom import SCENARIOS
from nephro.analysis.pipeline import analyze_series
from nephro.analysis.result import VERDICTS, AnalysisResult
from nephro.analysis.series import Series, SeriesError, load_series

__all__ = [
    "SCENARIOS",
    "VERDICTS",
    "AnalysisResult",
    "GroundTruth",
    "OutlineError",
    "Outlines",
    "Series",
    "SeriesError",
    "analyze_paths",
    "analyze_series",
    "generate_case",
    "load_series",
    "parse_outlines",
    "render_png",
]


def analyze_paths(
    paths: list[Path] | list[str], side: str | None = None, outlines: Outlines | None = None
) -> AnalysisResult:
    """Load and analyse a series; never raises for bad input.

    Parameters
    ----------
    paths
        DICOM files and/or folders (searched recursively) of one series.
    side
        ``"left"`` or ``"right"`` if known; only reported, the kidney is found anyway.
    outlines
        The radiologist's corrected regions (:mod:`nephro.analysis.outlines`), if any.

    Raises
    ------
    OutlineError
        When ``outlines`` cannot be used on this series.

    Returns
    -------
    AnalysisResult
        ``verdict == "indeterminate"`` and ``error`` set when the input is not a usable
        series (missing path, not DICOM, no pixel data, truncated...).
    """
    if side is not None and side not in ("left", "right"):
        raise ValueError("side must be 'left', 'right' or None")
    try:
        series = load_series([Path(p) for p in paths])
    except SeriesError as exc:
        return _error_result(str(exc))
    try:
        result = analyze_series(series, side=side, outlines=outlines)
    except OutlineError:
        raise
    except Exception as exc:  # a bug must not lose the exam; report it as such
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return _error_result(f"internal error while analysing: {detail}")
    result.input_info = {
        "files": len(series.files),
        "source_shape": list(series.source_shape),
        "analysis_pixel_mm": round(series.pixel_mm, 3),
        **{k: v for k, v in series.info.items() if not k.startswith("_")},
    }
    return result


def _error_result(message: str) -> AnalysisResult:
    return AnalysisResult(
        verdict="indeterminate",
        confidence=0.0,
        reasons=[message],
        quality=["unusable_input"],
        error=message,
    )


def render_png(result: AnalysisResult, out_path: Path | str, *, dpi: int = 100) -> Path:
    """Draw the evidence picture (see :func:`nephro.analysis.render.render_png`)."""
    from nephro.analysis.render import render_png as _render

    return _render(result, Path(out_path), dpi=dpi)
