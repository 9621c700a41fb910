"""Accuracy of the drainage analysis on synthetic nephrostograms with known truth.

Usage::

    python bench/analysis_accuracy.py [--cases 210] [--workers 2] [--dev] [--variations | --alone]

Test seeds start at 100000 and were never used while tuning thresholds; development
(tuning) used seeds 0-9999 only (``--dev`` runs on those, for tuning). Scenarios
rotate through patent, delayed, three obstruction levels, leak, leak above a block, tube
left open and tube displaced (210 cases: 23-24 of each). Every case draws its own
anatomy, dose, noise, scatter, motion, timing, bit depth, intensity encoding, layout,
transfer syntax (uncompressed, RLE; JPEG lossless for 1 in 10 when dcmtk is installed)
and polarity.
With ``--variations`` every case also draws the phantom's variations (issue 14, item 2:
image chain, field, devices, stones, moving gas, bursts, spot films; see
``nephro/analysis/phantom/variations.py``), and the accuracy is reported per variation
(the cases with it on, beside those with it off). With ``--alone`` the cases run
without variations and then once with each variation alone (its seeded value), and
each variation's accuracy and the verdicts it changed are listed.

Reported (the analysis told the kidney's side, as the app tells it the exam's):
obstruction sensitivity and specificity with Wilson 95% intervals, leak accuracy,
bladder arrival and T1/2 errors, indeterminate rate and a confusion matrix of verdicts.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nephro.analysis import analyze_paths, generate_case, phantom  # noqa: E402
from nephro.analysis.dicomio import jpeg_lossless_available  # noqa: E402
from nephro.analysis.phantom import variations  # noqa: E402

# Every phantom scenario but the failed injection (a bad-input case, tested on its own).
SCENARIOS = tuple(s for s in phantom.SCENARIOS if s != "no_contrast")
TEST_SEED_BASE = 100_000
DEV_SEED_BASE = 0


def run_case(job: tuple[int, str, int, int, bool, bool | str]) -> dict[str, Any]:
    """One case; ``varied``: all variations drawn (True), none, or only the named one."""
    index, scenario, seed, size, jpeg, varied = job
    with tempfile.TemporaryDirectory(prefix="nephro-bench-") as tmp:
        opts: dict[str, Any] = {"size": size}
        opts.update(phantom.alone(varied, seed) if isinstance(varied, str) else {})
        opts["variations"] = varied is True
        if jpeg and index % 10 == 9:
            opts["syntax"] = "jpeg-lossless"
        t0 = time.perf_counter()
        truth = generate_case(scenario, seed, Path(tmp), **opts)
        t1 = time.perf_counter()
        result = analyze_paths([Path(tmp)], side=truth.data["side"])
        t2 = time.perf_counter()
    gt = truth.data
    return {
        "scenario": scenario,
        "seed": seed,
        "gt": {k: v for k, v in gt.items() if k not in ("curves", "params")},
        "variations": variations.active(gt["params"]),
        "alone": varied if isinstance(varied, str) else None,
        "pred": result.to_dict(curves=False),
        "t_generate": t1 - t0,
        "t_analyse": t2 - t1,
    }


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float, float]:
    """Proportion with its Wilson score interval (Wilson 1927)."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return p, max(0.0, c - h), min(1.0, c + h)


def reliability(pairs: list[tuple[float, bool]], bins: int = 5) -> tuple[list[tuple], float]:
    """Reliability table of (confidence, right) pairs and the expected calibration error.

    Rows: (bin low, bin high, cases, mean confidence, accuracy); the ECE is the
    case-weighted mean of |confidence - accuracy| over the bins.
    """
    table, ece = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [(c, ok) for c, ok in pairs if low <= c < high or (b == bins - 1 and c == high)]
        if not members:
            continue
        confidence = statistics.fmean(c for c, _ in members)
        accuracy = statistics.fmean(ok for _, ok in members)
        table.append((low, high, len(members), confidence, accuracy))
        ece += len(members) / len(pairs) * abs(confidence - accuracy)
    return table, ece


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"cases": len(rows)}
    pos = [r for r in rows if r["gt"]["obstructed"]]
    neg = [r for r in rows if not r["gt"]["obstructed"]]
    tp = sum(r["pred"]["verdict"] == "obstructed" for r in pos)
    fp = sum(r["pred"]["verdict"] == "obstructed" for r in neg)
    pos_det = [r for r in pos if r["pred"]["verdict"] != "indeterminate"]
    neg_det = [r for r in neg if r["pred"]["verdict"] != "indeterminate"]
    out["sensitivity"] = wilson(tp, len(pos))
    out["specificity"] = wilson(len(neg) - fp, len(neg))
    out["sensitivity_excl_indeterminate"] = wilson(
        sum(r["pred"]["verdict"] == "obstructed" for r in pos_det), len(pos_det)
    )
    out["specificity_excl_indeterminate"] = wilson(
        sum(r["pred"]["verdict"] != "obstructed" for r in neg_det), len(neg_det)
    )
    out["leak_accuracy"] = wilson(
        sum(r["pred"]["leak"] == r["gt"]["leak"] for r in rows), len(rows)
    )
    leak_pos = [r for r in rows if r["gt"]["leak"]]
    out["leak_sensitivity"] = wilson(sum(r["pred"]["leak"] for r in leak_pos), len(leak_pos))
    leak_neg = [r for r in rows if not r["gt"]["leak"]]
    out["leak_specificity"] = wilson(sum(not r["pred"]["leak"] for r in leak_neg), len(leak_neg))
    onset = [
        abs(r["pred"]["leak_onset_s"] - r["gt"]["leak_onset_s"])
        for r in leak_pos
        if r["pred"]["leak_onset_s"] is not None and r["gt"]["leak_onset_s"] is not None
    ]
    out["leak_onset_abs_error_median_s"] = statistics.median(onset) if onset else None

    arr = [
        r["pred"]["bladder_arrival_s"] - r["gt"]["bladder_arrival_observed_s"]
        for r in rows
        if r["pred"]["bladder_arrival_s"] is not None
        and r["gt"]["bladder_arrival_observed_s"] is not None
    ]
    arr_true = [
        r["pred"]["bladder_arrival_s"] - r["gt"]["bladder_arrival_s"]
        for r in rows
        if r["pred"]["bladder_arrival_s"] is not None and r["gt"]["bladder_arrival_s"] is not None
    ]
    agree = sum(
        (r["pred"]["bladder_arrival_s"] is None) == (r["gt"]["bladder_arrival_observed_s"] is None)
        for r in rows
    )
    out["arrival_detection_agreement"] = wilson(agree, len(rows))
    out["arrival_n"] = len(arr)
    if arr:
        ab = sorted(abs(x) for x in arr)
        out["arrival_abs_error_median_s"] = statistics.median(ab)
        out["arrival_abs_error_p90_s"] = ab[int(0.9 * (len(ab) - 1))]
        out["arrival_bias_median_s"] = statistics.median(arr)
        out["arrival_abs_error_vs_true_time_median_s"] = statistics.median(
            sorted(abs(x) for x in arr_true)
        )
    th = [
        (r["pred"]["collecting_system_t_half_s"], r["gt"]["collecting_system_t_half_s"])
        for r in rows
        if r["pred"]["collecting_system_t_half_s"] is not None
        and r["gt"]["collecting_system_t_half_s"] is not None
    ]
    out["t_half_n"] = len(th)
    if th:
        rel = [p / g - 1 for p, g in th]
        out["t_half_rel_error_median"] = statistics.median(rel)
        out["t_half_abs_rel_error_median"] = statistics.median(abs(x) for x in rel)
        out["t_half_within_20pct"] = sum(abs(x) <= 0.2 for x in rel) / len(rel)
        out["t_half_within_50pct"] = sum(abs(x) <= 0.5 for x in rel) / len(rel)
    out["indeterminate_rate"] = wilson(
        sum(r["pred"]["verdict"] == "indeterminate" for r in rows), len(rows)
    )
    det_gt = [r for r in rows if r["gt"]["verdict"] != "indeterminate"]
    out["indeterminate_rate_when_gt_determinate"] = wilson(
        sum(r["pred"]["verdict"] == "indeterminate" for r in det_gt), len(det_gt)
    )
    out["verdict_accuracy"] = wilson(
        sum(r["pred"]["verdict"] == r["gt"]["verdict"] for r in rows), len(rows)
    )
    lv = [r for r in pos if r["pred"]["verdict"] == "obstructed"]
    out["level_accuracy"] = wilson(
        sum(r["pred"]["obstruction_level"] == r["gt"]["obstruction_level"] for r in lv), len(lv)
    )
    out["confusion"] = Counter((r["gt"]["verdict"], r["pred"]["verdict"]) for r in rows)
    out["per_scenario"] = {
        name: wilson(
            sum(r["pred"]["verdict"] == r["gt"]["verdict"] for r in rows if r["scenario"] == name),
            sum(r["scenario"] == name for r in rows),
        )
        for name in sorted({r["scenario"] for r in rows})
    }
    pairs = [(r["pred"]["confidence"], r["pred"]["verdict"] == r["gt"]["verdict"]) for r in rows]
    out["reliability"], out["ece"] = reliability(pairs)
    wrong = [c for c, ok in pairs if not ok]
    out["mean_confidence_wrong"] = statistics.fmean(wrong) if wrong else None
    out["errors"] = sum(r["pred"]["error"] is not None for r in rows)
    return out


def per_variation(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variation: verdict and leak accuracy of the cases with it on, and with it off."""
    out = {}
    for name in variations.DEFAULTS:
        on = [r for r in rows if name in r["variations"]]
        off = [r for r in rows if name not in r["variations"]]
        if not on:
            continue
        out[name] = {
            "verdict_on": wilson(sum(_right(r) for r in on), len(on)),
            "verdict_off": wilson(sum(_right(r) for r in off), len(off)),
            "leak_on": wilson(sum(r["pred"]["leak"] == r["gt"]["leak"] for r in on), len(on)),
            "errors_on": sum(r["pred"]["error"] is not None for r in on),
            "wrong": [f"{r['scenario']}/{r['seed']}" for r in on if not _right(r)],
        }
    return out


def _right(r: dict[str, Any]) -> bool:
    return bool(r["pred"]["verdict"] == r["gt"]["verdict"])


def _variation_lines(rows: list[dict[str, Any]], show: bool) -> list[str]:
    lines = ["  verdict accuracy per variation (cases with it on | off; leak accuracy on):"]
    for name, v in per_variation(rows).items():
        lines.append(
            f"    {name:20s} {len(v['wrong']):3d} wrong of {_n(rows, name):3d}: "
            f"{_ci(v['verdict_on'])} | {_ci(v['verdict_off'])}; "
            f"leak {v['leak_on'][0]:.2f}; analysis errors {v['errors_on']}"
        )
        if show and v["wrong"]:
            lines.append(f"      wrong: {', '.join(v['wrong'])}")
    return lines


def _alone_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Per variation alone: accuracy, and the verdicts it changed from the plain case."""
    plain = {r["seed"]: r["pred"] for r in rows if r["alone"] is None}
    out = ["Each variation alone (same seeds; accuracy, verdict/leak changed from plain):"]
    for name in (None, *variations.DEFAULTS):
        mine = [r for r in rows if r["alone"] == name]
        moved = [r for r in mine if r["pred"]["verdict"] != plain[r["seed"]]["verdict"]]
        leak = sum(r["pred"]["leak"] != plain[r["seed"]]["leak"] for r in mine)
        out.append(
            f"  {name or 'none':20s} {_ci(wilson(sum(map(_right, mine)), len(mine)))}; "
            f"verdict changed {len(moved)}, leak changed {leak}: "
            + ", ".join(f"{r['scenario']}/{r['seed']}->{r['pred']['verdict']}" for r in moved)
        )
    return out


def _n(rows: list[dict[str, Any]], name: str) -> int:
    return sum(name in r["variations"] for r in rows)


def _ci(x: tuple[float, float, float]) -> str:
    return f"{x[0]:.3f} (95% CI {x[1]:.3f}-{x[2]:.3f})"


def _calibration_and_scenarios(s: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"  expected calibration error {s['ece']:.3f} (target <= 0.10); mean confidence"
            f" when wrong {s['mean_confidence_wrong'] or 0:.2f} (target <= 0.6)",
            "  verdict accuracy per scenario:",
            *(f"    {name:18s} {_ci(x)}" for name, x in s["per_scenario"].items()),
            "  reliability (confidence bin: cases, mean confidence, accuracy):",
            *(
                f"    {lo:.1f}-{hi:.1f}: {n}, {c:.2f}, {a:.2f}"
                for lo, hi, n, c, a in s["reliability"]
            ),
        ]
    )


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", type=int, default=210)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--size", type=int, default=256, help="image size (px)")
    ap.add_argument("--dev", action="store_true", help="use development seeds 0-9999 (tuning)")
    ap.add_argument("--seed-base", type=int, default=None)
    ap.add_argument("--scenario", choices=SCENARIOS, default=None, help="only this scenario")
    ap.add_argument("--json", type=Path, default=None, help="write per-case rows here")
    ap.add_argument("--show-errors", action="store_true", help="list misclassified cases")
    ap.add_argument(
        "--variations", action="store_true", help="draw the phantom's variations per case"
    )
    ap.add_argument(
        "--alone",
        action="store_true",
        help="the same cases without variations, then with each variation alone",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    base = (
        args.seed_base
        if args.seed_base is not None
        else (DEV_SEED_BASE if args.dev else TEST_SEED_BASE)
    )
    jpeg = jpeg_lossless_available()
    jobs = []
    for i in range(args.cases):
        sc = args.scenario or SCENARIOS[i % len(SCENARIOS)]
        jobs.append((i, sc, base + i, args.size, jpeg, args.variations))
        if args.alone:
            jobs += [(i, sc, base + i, args.size, jpeg, v) for v in variations.DEFAULTS]
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool:
        rows = pool.map(run_case, jobs, chunksize=1)
    wall = time.perf_counter() - t0
    if args.alone:
        print("\n".join(_alone_lines(rows)))
        rows = [r for r in rows if r["alone"] is None]
    s = summarise(rows)
    kind = "development" if base < TEST_SEED_BASE else "held-out test"
    print(
        f"Nephro drainage analysis accuracy: {len(rows)} synthetic cases, {kind} seeds "
        f"{base}-{base + args.cases - 1}, {args.size}x{args.size} px, "
        f"JPEG lossless {'included' if jpeg else 'skipped (no dcmtk)'}, "
        f"variations {'on' if args.variations else 'off'}"
    )
    print(
        f"  wall time {wall:.0f} s on {args.workers} workers; mean generate "
        f"{statistics.mean(r['t_generate'] for r in rows):.2f} s, analyse "
        f"{statistics.mean(r['t_analyse'] for r in rows):.2f} s per case"
    )
    print(f"  obstruction sensitivity   {_ci(s['sensitivity'])}  (indeterminate counts as missed)")
    print(f"  obstruction specificity   {_ci(s['specificity'])}")
    print(
        f"    excluding indeterminate: sens {_ci(s['sensitivity_excl_indeterminate'])}, "
        f"spec {_ci(s['specificity_excl_indeterminate'])}"
    )
    print(f"  leak accuracy             {_ci(s['leak_accuracy'])}")
    print(
        f"    leak sensitivity {_ci(s['leak_sensitivity'])}, "
        f"specificity {_ci(s['leak_specificity'])}, "
        f"median onset error {s['leak_onset_abs_error_median_s']} s"
    )
    print(f"  bladder arrival: detected/absent agreement {_ci(s['arrival_detection_agreement'])}")
    if s["arrival_n"]:
        print(
            f"    n={s['arrival_n']}: median |error| {s['arrival_abs_error_median_s']:.1f} s "
            f"(vs first frame showing it), p90 {s['arrival_abs_error_p90_s']:.1f} s, "
            f"median bias {s['arrival_bias_median_s']:+.1f} s; vs true (continuous) "
            f"arrival {s['arrival_abs_error_vs_true_time_median_s']:.1f} s"
        )
    if s["t_half_n"]:
        print(
            f"  T1/2 (n={s['t_half_n']}): median relative error "
            f"{s['t_half_rel_error_median']:+.2f}, median |rel error| "
            f"{s['t_half_abs_rel_error_median']:.2f}, within 20% {s['t_half_within_20pct']:.2f},"
            f" within 50% {s['t_half_within_50pct']:.2f}"
        )
    print(
        f"  indeterminate rate        {_ci(s['indeterminate_rate'])}; when truth is "
        f"determinate {_ci(s['indeterminate_rate_when_gt_determinate'])}"
    )
    print(
        f"  verdict accuracy (4 classes) {_ci(s['verdict_accuracy'])}; obstruction level "
        f"accuracy {_ci(s['level_accuracy'])}; analysis errors {s['errors']}"
    )
    classes = ("drains", "delayed", "obstructed", "indeterminate")
    print("  confusion (rows truth, columns analysis):")
    print("    " + " " * 14 + "".join(f"{c[:12]:>14s}" for c in classes))
    for g in classes:
        print(
            "    " + f"{g:14s}" + "".join(f"{s['confusion'].get((g, p), 0):14d}" for p in classes)
        )
    print(_calibration_and_scenarios(s))
    if args.variations:
        print("\n".join(_variation_lines(rows, args.show_errors)))
    if args.show_errors:
        for r in rows:
            bad = r["pred"]["verdict"] != r["gt"]["verdict"] or r["pred"]["leak"] != r["gt"]["leak"]
            if bad:
                g, p = r["gt"], r["pred"]
                print(
                    f"    {r['scenario']:18s} seed {r['seed']} {','.join(r['variations'])}: "
                    f"truth {g['verdict']}/leak "
                    f"{g['leak']} arr {g['bladder_arrival_observed_s']} -> {p['verdict']}/leak "
                    f"{p['leak']} arr {p['bladder_arrival_s']} up {p['upper_tract_residual_last']}"
                    f" t½ {p['collecting_system_t_half_s']} ra20 {p['residual_fraction_20min']}"
                )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
