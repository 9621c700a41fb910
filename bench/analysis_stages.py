"""Each stage of the drainage analysis against the independent simulator's truth.

Usage::

    python bench/analysis_stages.py [--cases 240] [--workers 2] [--cache DIR] [--json FILE]

Most series fail at more than one stage, so mending one rarely changes a verdict of
bench/analysis_independent.py. This bench reads the stages one by one against the
simulator's physical truth (bench/indsim records every image's field and anatomy, the
iodine in each compartment and the pixels' encoding), on development seeds only.

Reported, each with a Wilson 95 % interval:

* polarity: runs whose tags leave the polarity open (no Pixel Intensity Relationship
  Sign), read the right way round;
* stations: frames whose field lies more than a quarter of the run's field from the
  run's first frame (the table panned, or a film elsewhere) set aside from the run,
  and frames in place set aside;
* kidney: outlined at the true renal pelvis (:mod:`bench.stage_kidney`);
* contrast: series whose collecting system filled in which the analysis saw contrast,
  series that got none (failed or misplaced injection, no contrast) answered "no
  contrast", and the median error of the contrast onset;
* readings: on run frames and films showing 90 % of the kidney, where the analysis
  read on, its contrast as a share of the run's peak (measured against true): median
  absolute error, share within 0.2, agreement on "retains 80 %" (obstruction);
* bladder: series with an image that shows most of the bladder holding contrast, in
  which the analysis dated its arrival, apart by where it was first seen so (run
  frames, or films only) and by whether an image showed it empty before (the baseline
  that a difference needs, :mod:`nephro.analysis.views` for a pelvic film: without
  one, the arrival can only be read from a single image); and series whose
  bladder was shown but never received contrast, in which it dated none.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.analysis_accuracy import wilson  # noqa: E402
from bench.analysis_independent import on_dev_seeds, reached_kidney, simulated  # noqa: E402
from bench.stage_kidney import kidney_row, kidney_summary  # noqa: E402
from nephro.analysis import thresholds as th  # noqa: E402
from nephro.analysis import verdict as vd  # noqa: E402
from nephro.analysis.pipeline import Trace, analyze_series  # noqa: E402
from nephro.analysis.series import SeriesError, load_series  # noqa: E402

FAR_FIELD_SHARE = 0.25
"""A frame lies elsewhere when its field centre is this share of the run's field away."""
KIDNEY_SHOWN = 0.9
"""A film shows the kidney when this share of it lies in the film's field (as the
verdict bench's split)."""
PART_SHOWN = 0.5
"""Films with at least this share of the kidney in their field, but less than
KIDNEY_SHOWN, are reported apart: the analysis reads them over the part shown."""
FILLED_SHARE = 0.05
"""The collecting system has contrast once it holds this share of its peak iodine."""
BLADDER_SHOWN = 0.5
"""An image shows the bladder when this share of it lies in the image's field."""
BLADDER_FILLED = 0.1
"""...and shows it filled when it holds this share of the collecting system's peak
iodine; empty under BLADDER_EMPTY."""
BLADDER_EMPTY = 0.01
"""...the share under which an image shows the bladder empty."""


def _iodine(image: dict[str, Any], part: str) -> float:
    """The simulator's iodine (mg) in ``part`` on ``image`` (0 where it records none)."""
    return float(image.get("iodine_mg", {}).get(part, 0.0))


def _sorted_images(truth: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(truth["images"], key=lambda image: image["t_s"])


def polarity_row(truth: dict[str, Any], quality: list[str]) -> dict[str, bool] | None:
    """Whether the run's polarity was open and was read the right way round.

    Without the sign tag the reader takes MONOCHROME1 as "higher values, fewer
    x-rays" and anything else the other way; the simulator records the sign it stored.
    """
    chain = (truth.get("chains") or {}).get("run")
    if not chain or chain.get("include_sign", True):
        return None
    assumed = -1 if chain["photometric"] == "MONOCHROME1" else 1
    turn = assumed != chain["sign"]
    return {"right": turn == ("polarity_from_content" in quality)}


def station_rows(truth: dict[str, Any], set_aside: set[int]) -> list[dict[str, bool]]:
    """Per frame (in time order, as the series holds them): whether it lies elsewhere
    and whether the analysis set it aside."""
    images = _sorted_images(truth)
    runs = [image for image in images if image["kind"] == "run"]
    if not runs:
        return []
    first = runs[0]
    field_cm = first["fov_cm"] / first.get("magnification_kidney", 1.0)
    x0, z0 = first["center_xz_cm"]
    rows = []
    for i, image in enumerate(images):
        x, z = image["center_xz_cm"]
        far = max(abs(x - x0), abs(z - z0)) > FAR_FIELD_SHARE * field_cm
        rows.append({"far": far, "set_aside": i in set_aside, "film": image["kind"] == "film"})
    return rows


def onset_truth_s(truth: dict[str, Any]) -> float | None:
    """Time (from the first image) of the first image whose collecting system holds
    contrast, or None when it never does."""
    images = _sorted_images(truth)
    amounts = [_iodine(image, "collecting_system") for image in images]
    peak = max(amounts, default=0.0)
    if peak <= 0:
        return None
    first = next(i for i, mg in enumerate(amounts) if mg >= FILLED_SHARE * peak)
    return float(images[first]["t_s"] - images[0]["t_s"])


def readings(truth: dict[str, Any], curve: np.ndarray, keep: np.ndarray) -> list[dict[str, Any]]:
    """Run frames and films showing the kidney: its contrast as a share of the run's
    peak, measured (the analysis's collecting-system curve) and true (the simulator's
    iodine), with the image's kind (:func:`_kind`) and time (the simulator's)."""
    images = _sorted_images(truth)
    at = {int(i): k for k, i in enumerate(keep)}
    shown = [
        (at[i], image, _kind(image))
        for i, image in enumerate(images)
        if i in at and _kind(image) is not None
    ]
    run = [(k, image) for k, image, kind in shown if kind == "run"]
    if len(run) < 3:
        return []
    true_peak = max(image["iodine_mg"]["collecting_system"] for _, image in run)
    measured_peak = max(float(curve[k]) for k, _ in run)
    if true_peak <= 0 or measured_peak <= 0:
        return []
    return [
        {
            "kind": kind,
            "t_s": image["t_s"],
            "true": image["iodine_mg"]["collecting_system"] / true_peak,
            "measured": float(curve[k]) / measured_peak,
        }
        for k, image, kind in shown
    ]


def bladder_row(truth: dict[str, Any]) -> dict[str, Any] | None:
    """What the images showed of the bladder: ``filled`` (on some image showing it), where
    it was first seen so (``"run"`` frames or ``"films"``) and whether an image showed it
    empty before (``baseline``); or ``filled`` False when every image showing it shows
    it empty. None when no image shows it, or it only ever held a trace."""
    images = _sorted_images(truth)
    peak = max((_iodine(image, "collecting_system") for image in images), default=0.0)
    shown = [im for im in images if im.get("bladder_fraction_in_field", 0.0) >= BLADDER_SHOWN]
    if peak <= 0 or not shown:
        return None
    share = [_iodine(image, "bladder") / peak for image in shown]
    first = next((k for k, x in enumerate(share) if x >= BLADDER_FILLED), None)
    if first is not None:
        return {
            "filled": True,
            "seen_on": "run" if shown[first]["kind"] == "run" else "films",
            "baseline": any(x < BLADDER_EMPTY for x in share[:first]),
        }
    return {"filled": False} if all(x < BLADDER_EMPTY for x in share) else None


def _kind(image: dict[str, Any]) -> str | None:
    """ "run" or "film" for images showing the kidney, "film part" for films showing
    part of it (PART_SHOWN to KIDNEY_SHOWN), None for the rest."""
    shown = image.get("kidney_fraction_in_field", 0.0)
    if image["kind"] not in ("run", "film") or shown < PART_SHOWN:
        return None
    if shown >= KIDNEY_SHOWN:
        return str(image["kind"])
    return "film part" if image["kind"] == "film" else None


def run_case(job: tuple[str, int, Path | None]) -> dict[str, Any]:
    scenario, seed, cache = job
    with tempfile.TemporaryDirectory(prefix="nephro-stages-") as tmp:
        truth, folder = simulated(scenario, seed, cache, Path(tmp))
        try:
            series = load_series([p for p in folder.iterdir() if p.suffix == ".dcm"])
        except SeriesError:
            return {"scenario": scenario, "seed": seed, "read": False}
        trace = Trace()
        result = analyze_series(series, side=truth.get("side"), trace=trace)
    reg, sub, curves = trace.registration, trace.subtraction, trace.curves
    seen = result.rule not in (vd.NO_CONTRAST, vd.BLANK, vd.ONE_FRAME)
    onset_s = read = None
    if seen and sub is not None and trace.keep is not None:
        onset_s = float(series.times_s[trace.keep[sub.onset]])
    if seen and curves is not None and trace.keep is not None:
        # Read only where the analysis went on to use them.
        read = readings(truth, curves.collecting_system, trace.keep)
    filled = reached_kidney(truth) and onset_truth_s(truth) is not None
    return {
        "scenario": scenario,
        "seed": seed,
        "read": True,
        "polarity": polarity_row(truth, list(series.quality)),
        "stations": station_rows(truth, set(reg.elsewhere) if reg is not None else set()),
        "filled": filled,
        "contrast_seen": seen,
        "onset_true_s": onset_truth_s(truth),
        "onset_s": onset_s,
        "readings": read or [],
        "kidney": kidney_row(truth, _sorted_images(truth), trace, series.bin_factor),
        "bladder": None
        if (bladder := bladder_row(truth)) is None
        else bladder | {"arrival": result.bladder_arrival_s is not None},
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    read = [r for r in rows if r["read"]]
    polar = [r["polarity"] for r in read if r["polarity"] is not None]
    frames = [f for r in read for f in r["stations"]]
    far = [f for f in frames if f["far"]]
    near = [f for f in frames if not f["far"]]
    filled = [r for r in read if r["filled"]]
    empty = [
        r for r in read if not r["filled"] and r["scenario"] in ("no_contrast", "tube_displaced")
    ]
    timed = [
        abs(r["onset_s"] - r["onset_true_s"])
        for r in filled
        if r["onset_s"] is not None and r["onset_true_s"] is not None
    ]

    def kind(name: str) -> list[dict[str, Any]]:
        return [x for r in read for x in r["readings"] if x["kind"] == name]

    limit = th.OBSTRUCTED_MIN_RESIDUAL
    return {
        "cases": len(rows),
        "unreadable": len(rows) - len(read),
        "polarity_right": wilson(sum(p["right"] for p in polar), len(polar)),
        "far_set_aside": _aside(far),
        "near_set_aside": _aside(near),
        "far_films_set_aside": _aside([f for f in far if f.get("film")]),
        "near_films_set_aside": _aside([f for f in near if f.get("film")]),
        "kidney_at_pelvis": kidney_summary([r.get("kidney") for r in filled]),
        "contrast_seen_when_filled": wilson(sum(r["contrast_seen"] for r in filled), len(filled)),
        "none_seen_when_none_given": wilson(sum(not r["contrast_seen"] for r in empty), len(empty)),
        "onset_median_error_s": statistics.median(timed) if timed else None,
        "onset_cases": len(timed),
        "onset_within_10s": wilson(sum(e <= 10.0 for e in timed), len(timed)),
        "run": _agreement(kind("run"), limit),
        "film": _agreement(kind("film"), limit),
        "film part": _agreement(kind("film part"), limit),
        **bladder_summary(read),
    }


def _aside(frames: list[dict[str, Any]]) -> tuple[float, float, float]:
    """The share of ``frames`` (station rows) set aside from the run."""
    return wilson(sum(f["set_aside"] for f in frames), len(frames))


def bladder_summary(read: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """(dated, series): arrival dated where the bladder was seen filled (all, and apart
    by where and whether with a baseline); and (undated, series) where it was seen
    empty throughout."""
    rows = [r["bladder"] for r in read if r.get("bladder")]
    filled = [b for b in rows if b["filled"]]
    empty = [b for b in rows if not b["filled"]]

    def dated(group: list[dict[str, Any]]) -> tuple[int, int]:
        return sum(b["arrival"] for b in group), len(group)

    run = [b for b in filled if b["seen_on"] == "run"]
    films = [b for b in filled if b["seen_on"] == "films"]
    return {
        "bladder_dated": dated(filled),
        "bladder_datable_dated": dated([b for b in filled if b["baseline"]]),
        "bladder_run_dated": dated([b for b in run if b["baseline"]]),
        "bladder_run_alone_dated": dated([b for b in run if not b["baseline"]]),
        "bladder_films_dated": dated([b for b in films if b["baseline"]]),
        "bladder_films_alone_dated": dated([b for b in films if not b["baseline"]]),
        "bladder_empty_undated": (sum(not b["arrival"] for b in empty), len(empty)),
    }


def _agreement(rows: list[dict[str, Any]], limit: float) -> dict[str, Any]:
    """How measured shares of the peak agree with the true ones."""
    errors = [abs(x["measured"] - x["true"]) for x in rows]
    return {
        "n": len(rows),
        "median_abs_error": statistics.median(errors) if errors else None,
        "within_0_2": wilson(sum(e <= 0.2 for e in errors), len(errors)),
        "retention_agrees": wilson(
            sum((x["measured"] >= limit) == (x["true"] >= limit) for x in rows), len(rows)
        ),
    }


def _reading_line(label: str, a: dict[str, Any], limit: str) -> str:
    error = "none" if a["median_abs_error"] is None else f"{a['median_abs_error']:.3g}"
    return (
        f"{label} ({a['n']}): share of the run's peak, median absolute"
        f" error {error}; within 0.2 {_ci(a['within_0_2'])}; 'retains >= {limit}' agrees"
        f" {_ci(a['retention_agrees'])}"
    )


def _ci(x: tuple[float, float, float]) -> str:
    return f"{x[0]:.3f} ({x[1]:.3f}-{x[2]:.3f})"


def report(s: dict[str, Any]) -> str:
    def n(key: str, unit: str = "") -> str:
        value = s[key]
        return "none" if value is None else f"{value:.3g}{unit}"

    def line(label: str, key: str) -> str:
        return f"{label:58s} {_ci(s[key])}"

    def count(label: str, key: str) -> str:
        k, total = s[key]
        return f"{label:58s} " + (f"{k} of {total}, {_ci(wilson(k, total))}" if total else "none")

    limit = f"{th.OBSTRUCTED_MIN_RESIDUAL:.0%}"
    return "\n".join(
        [
            f"analysis stages on the independent simulator, {s['cases']} development cases"
            f" ({s['unreadable']} unreadable)",
            line("polarity left open by the tags, read the right way round", "polarity_right"),
            line(
                f"frames elsewhere (> {FAR_FIELD_SHARE:.0%} of the field away) set aside",
                "far_set_aside",
            ),
            line("frames in place set aside", "near_set_aside"),
            line("  films of them: elsewhere, set aside", "far_films_set_aside"),
            line("  films of them: in place, set aside", "near_films_set_aside"),
            count("kidney outlined at the true pelvis (template a run frame)", "kidney_at_pelvis"),
            line("contrast seen where the collecting system filled", "contrast_seen_when_filled"),
            line(
                "'no contrast' where none reached it (failed, displaced)",
                "none_seen_when_none_given",
            ),
            f"contrast onset: median error {n('onset_median_error_s', ' s')} over"
            f" {s['onset_cases']} series; within 10 s {_ci(s['onset_within_10s'])}",
            *(
                _reading_line(label, a, limit)
                for label, a in (
                    ("run frames showing the kidney", s["run"]),
                    ("films showing the kidney", s["film"]),
                    (f"films showing {PART_SHOWN:.0%} to {KIDNEY_SHOWN:.0%} of it", s["film part"]),
                )
            ),
            *(
                count(label, key)
                for label, key in (
                    ("bladder seen filled: arrival dated", "bladder_dated"),
                    (
                        "  of them shown empty before (datable by difference)",
                        "bladder_datable_dated",
                    ),
                    (
                        "  first seen filled on run frames, after an image showed it empty",
                        "bladder_run_dated",
                    ),
                    ("  on run frames, never shown empty before", "bladder_run_alone_dated"),
                    ("  on films, after an image showed it empty", "bladder_films_dated"),
                    ("  on films, never shown empty before", "bladder_films_alone_dated"),
                    ("bladder shown, never filled: no arrival dated", "bladder_empty_undated"),
                )
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    print(report(summarise(on_dev_seeds(run_case, argv, __doc__ or ""))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
