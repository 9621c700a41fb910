"""Drainage analysis of a nephrostogram series: the method, stage by stage.

Everything works on the binned analysis grid (~128 px), so a 150-frame 512^2 series
is analysed in a few tens of milliseconds after decoding. Each stage is a module;
small frozen dataclasses carry what one stage hands the next.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis import verdict as vd
from nephro.analysis.arrays import F32, blank, shift_mask
from nephro.analysis.arrival import arrival_on_views, bladder_seen_empty, find_arrival
from nephro.analysis.bladder import Bladder, find_bladder
from nephro.analysis.bodypart import region_without_kidney
from nephro.analysis.curves import Curves, measure_curves, require_filling
from nephro.analysis.kidney import Kidney
from nephro.analysis.leak import Leak, confirm_leak, search_leaks
from nephro.analysis.metrics import (
    Metrics,
    column_level,
    field_balance,
    leaves_field,
    measure_clearance,
    retention,
)
from nephro.analysis.normalise import match_frames
from nephro.analysis.outlines import Outlines, drawn_zone, kidney_or_drawn
from nephro.analysis.reasons import explain
from nephro.analysis.register import Registration, register_pauses
from nephro.analysis.result import AnalysisResult, Evidence, NoContrast
from nephro.analysis.scatter import fit_scatter_around
from nephro.analysis.series import Series
from nephro.analysis.subtract import Subtraction, subtract_scout
from nephro.analysis.tract import Tract, segment_tract
from nephro.analysis.verdict import calibrated, confidence, decide, margin_score
from nephro.analysis.views import judge_views

AS_VIEWS = "late_films_without_kidney_as_views"
"""Quality flag: the last films missed the collecting system and were read as views."""


@dataclass
class Trace:
    """What the stages handed on, for a bench that checks each stage against a
    simulator's truth (``bench/analysis_stages.py``); the analysis never reads it."""

    registration: Registration | None = None
    keep: NDArray[np.intp] | None = None
    """The frames of the registration read as the run's field."""
    subtraction: Subtraction | None = None
    kidney: Kidney | None = None
    curves: Curves | None = None


def analyze_series(
    series: Series,
    side: str | None = None,
    outlines: Outlines | None = None,
    trace: Trace | None = None,
) -> AnalysisResult:
    """Analyse a loaded series; never raises for data problems (see reasons).

    ``outlines``: the radiologist's corrected regions; they replace the segmentation's
    own (2.) and every later stage runs unchanged (:mod:`nephro.analysis.outlines`).
    ``trace``: filled with what the first stages found, as they find it.

    0. Images labelled as a region that holds no kidney (a chest study) are not read.
    1. Register frames outside the run for patient shift, setting aside views at
       another table position; put display-encoded frames on the scout's intensity scale;
       subtract every frame from the scout (the mean of the frames before contrast),
       with per-frame noise.
    2. Segment: the collecting system (first dense blob; template at its fullest;
       breathing tracked), bladder (a large blob far below on the last film), tube,
       ureter, and candidate leaks (contrast near the kidney that grew).
    3. Linearise for scatter (the fraction that best conserves iodine) and read each
       region's contrast per frame. Films after the latest that shows the collecting
       system are read again as views at another position (for the bladder alone).
    4. Date bladder arrival (in the run's field, or else on the views at another table
       position: :mod:`nephro.analysis.views`); confirm the leak; measure T1/2,
       residual fractions, the mass balance (contrast lost from the field, retention)
       and the column's end.
    5. Decide by the verdict rule (:mod:`nephro.analysis.verdict`) and explain why.
    """
    if series.log_frames.shape[0] < 2:
        reason = "only one frame: drainage needs a scout and later frames"
        return _indeterminate(series, reason, list(series.quality), 0.0, vd.ONE_FRAME)
    if blank(series.log_frames):
        reason = "the images are blank (every pixel of every frame has the same value)"
        return _indeterminate(series, reason, list(series.quality), 1.0, vd.BLANK)
    if (elsewhere := _labelled_elsewhere(series)) is not None:
        return elsewhere
    reg = register_pauses(
        series.log_frames, series.times_s, series.fields, series.info.get("_acquisition")
    )
    return _analyze_registered(series, reg, side, outlines, trace or Trace())


def _analyze_registered(
    series: Series,
    reg: Registration,
    side: str | None,
    outlines: Outlines | None,
    trace: Trace,
) -> AnalysisResult:
    """Steps 1-5 of :func:`analyze_series` on the registered frames ``reg``."""
    px = series.pixel_mm
    quality = list(series.quality) + (["patient_motion_corrected"] if reg.moved else [])
    log, times, keep = _run_field(reg, series.times_s, trace)
    fields = _fields(reg, keep)
    quality += ["views_elsewhere_left_out"] if keep.size < reg.log.shape[0] else []
    if display := set(series.info.get("_display_frames", ())):
        log = match_frames(log, only=[k for k, i in enumerate(keep) if int(i) in display])
    try:
        within = drawn_zone(outlines, log.shape[1:], series.bin_factor, px)
        sub = trace.subtraction = subtract_scout(log, times, px, within)
        kidney = trace.kidney = kidney_or_drawn(
            sub, times, px, _kidney_image_left(side, series), outlines, series.bin_factor
        )
        bladder = find_bladder(sub, kidney, times, px)
        if outlines is not None:
            kidney, bladder = outlines.correct_organs(kidney, bladder, series.bin_factor)
        tract = segment_tract(sub, kidney, bladder, px, fields)
        leaks = search_leaks(sub, kidney, bladder, tract, times, px)
        if outlines is not None:
            tract, leaks = outlines.correct_tract(
                tract, leaks, kidney, bladder, sub, series.bin_factor, px
            )
        leak_if_blocked = leaks.regions(tract.ureter_wide, blocked=True)
        contrast = kidney.zone | tract.ureter_band | bladder.roi | tract.tube | leak_if_blocked
        log_scale_known = "log_encoded_pixels" not in quality
        lin = fit_scatter_around(contrast, sub, times, kidney.template_frame, log_scale_known, px)
        read = partial(
            measure_curves, sub, kidney, bladder, tract, leak_if_blocked, px=px, fields=fields
        )
        curves = trace.curves = read(lin)
        require_filling(curves, kidney)
    except NoContrast as stop:
        return _indeterminate(
            series, stop.reason, [*quality, stop.flag], stop.confidence, stop.rule
        )
    if curves.kidney_shown[-1] < th.KIDNEY_MIN_SHOWN:
        # Read again once, with the films that miss the kidney as views elsewhere.
        hidden = _hidden_at_end(curves, keep)
        if hidden is None or AS_VIEWS in series.quality:
            return _kidney_not_shown(series, quality)
        views = replace(reg, elsewhere=sorted({*reg.elsewhere, *hidden}))
        noted = replace(series, quality=[*series.quality, AS_VIEWS])
        return _analyze_registered(noted, views, side, outlines, trace)

    clearance = measure_clearance(curves, times)
    pelvic = judge_views(reg, series.times_s, kidney.seed, float(times[sub.onset]), px)
    arrival = find_arrival(bladder, curves, sub, times, tract.occupied, lin, px)
    if arrival.time_s is None:
        bladder = bladder.rejected()
    leak = confirm_leak(
        leaks,
        leak_if_blocked,
        curves,
        sub,
        kidney,
        tract,
        times,
        lin,
        px,
        drained=arrival.time_s is not None,
        residual_last=clearance.residual_last,
    )
    # The leak is read from the run's field alone; then the views at another table
    # position may date an arrival the run's field did not show.
    arrival = arrival_on_views(arrival, pelvic.filled_s)
    quality += pelvic.quality
    balance = field_balance(
        clearance,
        curves,
        leak,
        bladder,
        sub,
        tract.occupied,
        lin,
        px,
        bladder_on_views=arrival.on_views,
        reread=read if log_scale_known else None,
    )
    metrics = Metrics(
        span_s=float(times[-1] - times[0]),
        arrival_s=arrival.time_s,
        t_half_s=clearance.t_half_s,
        t_half_note=clearance.t_half_note,
        t20_s=clearance.t20_s,
        residual_20min=clearance.residual_20min,
        residual_last=clearance.residual_last,
        upper_residual_last=retention(
            clearance, leak, arrived=arrival.time_s is not None, balance=balance
        ),
        upper_residual_direct=clearance.upper_residual_last,
        balance=balance,
        leak=leak.found,
        leak_onset_s=leak.onset_s,
        leak_area_cm2=leak.area_cm2,
        column_level=column_level(sub, kidney, tract, px),
        frames_realigned=len(reg.moved),
        beyond_field=leaves_field(sub, tract, px)
        and arrival.time_s is None
        and not bladder_seen_empty(pelvic.empty_s),
        from_spine_mm=None if "pixel_spacing_assumed" in quality else kidney.from_spine_mm(px),
        centre_from_spine_mm=None
        if "pixel_spacing_assumed" in quality
        else kidney.centre_from_spine_mm(px),
        arrival_sigmas=arrival.sigmas,
    )

    drainage = metrics.drainage(timing_known="timing_missing" not in quality)
    decision = decide(drainage)
    uncertain = [q for q in vd.UNCERTAIN_INPUT if q in quality]
    rule_conf = margin_score(decision, drainage)
    level = metrics.column_level if decision.verdict == "obstructed" else None
    conf, score = confidence(decision, drainage, len(uncertain), level)

    evidence = replace(
        _evidence(log, times, sub, kidney, bladder, tract, leak),
        bin_factor=series.bin_factor,
        source_shape=series.source_shape,
    )
    side_out, side_src = _side(side, kidney, series)
    return AnalysisResult(
        verdict=decision.verdict,
        confidence=float(min(max(conf, 0.0), 1.0)),
        rule=decision.rule,
        score=score,
        reasons=explain(
            decision,
            metrics,
            level,
            confidence=conf,
            rule_confidence=rule_conf,
            uncertain_input=uncertain,
            later_films_for_bladder=AS_VIEWS in quality,
            later_views=bool(reg.elsewhere) and max(reg.elsewhere) > int(keep[-1]),
        ),
        leak=leak.found,
        leak_onset_s=leak.onset_s,
        leak_area_cm2=leak.area_cm2,
        bladder_arrival_s=arrival.time_s,
        collecting_system_t_half_s=metrics.t_half_s,
        residual_fraction_20min=metrics.residual_20min,
        residual_fraction_last=metrics.residual_last,
        upper_tract_residual_last=metrics.upper_residual_last,
        obstruction_level=level,
        tube_open=metrics.tube_open,
        frames=int(log.shape[0]),
        span_s=metrics.span_s,
        side=side_out,
        side_source=side_src,
        kidney_on_image="left" if kidney.image_left else "right",
        kidney_from_spine_mm=metrics.from_spine_mm,
        quality=quality,
        curves={
            "t_s": [float(x) for x in times],
            "collecting_system": [float(x) for x in curves.collecting_system],
            "ureter": [float(x) for x in curves.ureter],
            "bladder": [float(x) for x in curves.bladder],
            "leak": [float(x) for x in leak.curve],
            "tube": [float(x) for x in curves.tube],
        },
        evidence=evidence,
    )


def _evidence(
    log: F32,
    times: NDArray[np.float64],
    sub: Subtraction,
    kidney: Kidney,
    bladder: Bladder,
    tract: Tract,
    leak: Leak,
) -> Evidence:
    """The images and outlines the evidence picture is drawn from."""
    last = sub.s.shape[0] - 1
    t_tpl, tracks = kidney.template_frame, kidney.tracks
    return Evidence(
        background=log[0],
        early=sub.sm[t_tpl],
        late=sub.sm[last],
        early_time_s=float(times[t_tpl]),
        late_time_s=float(times[last]),
        collecting_system=shift_mask(kidney.outline, 0, 0),
        collecting_system_late=shift_mask(
            kidney.outline, int(tracks.dy[last]), int(tracks.dx[last])
        ),
        ureter=tract.ureter,
        bladder=bladder.mask,
        leak=shift_mask(leak.mask, int(tracks.dy[last]), int(tracks.dx[last])),
        tube=tract.tube,
    )


def _indeterminate(
    series: Series, reason: str, quality: list[str], score: float, rule: str
) -> AnalysisResult:
    span = float(series.times_s[-1] - series.times_s[0]) if series.times_s.size else 0.0
    return AnalysisResult(
        verdict="indeterminate",
        confidence=calibrated(rule, "indeterminate", score),
        rule=rule,
        score=score,
        reasons=[reason],
        frames=int(series.log_frames.shape[0]),
        span_s=span,
        quality=quality,
    )


def _run_field(
    reg: Registration, times: NDArray[np.float64], trace: Trace
) -> tuple[F32, NDArray[np.float64], NDArray[np.intp]]:
    """The frames read as the run's field, their times and their indices: all but the
    views at another table position, which share little field with the run and are
    read for the bladder on their own (4.); unless they are all but one frame."""
    keep = np.arange(reg.log.shape[0])
    vars(trace).update(vars(Trace(registration=reg)))  # no stage of an earlier reading kept
    if reg.elsewhere and len(reg.elsewhere) < reg.log.shape[0] - 1:
        keep = trace.keep = np.setdiff1d(keep, reg.elsewhere)
        return reg.log[keep], times[keep], keep
    trace.keep = keep
    return reg.log, times, keep


def _hidden_at_end(curves: Curves, keep: NDArray[np.intp]) -> list[int] | None:
    """The last films, when they do not show the collecting system but an earlier film
    after its filling does: read like views elsewhere (for the bladder alone), so the
    kidney is judged on the latest film that shows it. None when no such film exists."""
    shown = np.flatnonzero(curves.kidney_shown >= th.KIDNEY_MIN_SHOWN)
    last = int(shown[-1]) if shown.size else -1
    if last <= curves.onset:
        return None
    return [int(i) for i in keep[last + 1 :]]


def _fields(reg: Registration, keep: NDArray[np.intp]) -> dict[int, NDArray[np.bool_]]:
    """What each frame of the run's field shows, by its index there."""
    return {k: reg.fields[int(i)] for k, i in enumerate(keep) if int(i) in reg.fields}


def _labelled_elsewhere(series: Series) -> AnalysisResult | None:
    """Files all labelled as a region that holds no kidney are not a nephrostogram."""
    region = region_without_kidney(series.info.get("_body_parts", ()))
    if not region:
        return None
    reason = (
        f"the images are labelled as the {region} (Body Part Examined), which does not"
        " hold the kidney: this is not a nephrostogram, so drainage cannot be judged"
    )
    quality = [*series.quality, "body_part_not_kidney"]
    return _indeterminate(series, reason, quality, 1.0, vd.NOT_KIDNEY_REGION)


def _kidney_not_shown(series: Series, quality: list[str]) -> AnalysisResult:
    """What the last film does not show is neither "emptied" nor "retained"."""
    reason = (
        "the last film does not show the collecting system (it lies outside that"
        " film's field), so whether its contrast drained cannot be judged"
    )
    quality = [*quality, "kidney_outside_last_film"]
    return _indeterminate(series, reason, quality, 0.8, vd.KIDNEY_NOT_SHOWN)


def _right_on_image_left(series: Series) -> bool | None:
    """Whether the patient's right lies on the image's left, by the images' Patient
    Orientation (column direction "L": an AP view); None when they do not say."""
    orient = series.info.get("patient_orientation")
    if orient and orient[0] in ("L", "R"):
        return bool(orient[0] == "L")
    return None


def _kidney_image_left(given: str | None, series: Series) -> bool | None:
    """Whether the given side's kidney lies on the image's left (None if not known)."""
    right_on_left = _right_on_image_left(series)
    if given not in ("left", "right") or right_on_left is None:
        return None
    return (given == "right") == right_on_left


def _side(given: str | None, kidney: Kidney, series: Series) -> tuple[str | None, str]:
    """The patient's side of the kidney: given, or from its place on the image."""
    if given:
        return given, "given"
    right_on_left = _right_on_image_left(series)
    if right_on_left is not None:
        kidney_right = kidney.image_left == right_on_left
        return ("right" if kidney_right else "left"), "image position and orientation"
    return ("right" if kidney.image_left else "left"), "image position, assuming an AP view"
