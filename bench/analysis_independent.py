"""The drainage analysis on the independent simulator (bench/indsim), reported on its own.

Usage::

    python bench/analysis_independent.py [--cases 120] [--workers 2] [--dev] [--json FILE]

bench/indsim was written clean-room, without reading nephro/analysis, from a physics and
anatomy spec: it shares none of the analysis's assumptions, so its figures are the honest
test of images the analysis was never tuned on (issue 14). Held-out seeds start at 100000
and are never used while tuning; ``--dev`` runs development seeds 0-9999.

The expected verdict is the project's one verdict rule (nephro.analysis.verdict.decide)
applied to the simulator's physical truth: its bladder arrival, clearance half-time and
residual iodine. Out-of-distribution inputs (a chest film, a blank series, a field over
the pelvis only) and a failed or misplaced injection expect ``indeterminate``. So does a
series in which the bladder is never in the field while the ureter leaves it (issue 14,
item 4): whether contrast reaches the bladder cannot be seen, so ``indeterminate`` is the
answer, or a verdict drawn only from what is seen: of the four, only "obstructed" (the
kidney and ureter in view still hold the contrast) can be, so it is accepted too where the
rule gives it on the truth. These series count with the undecidable ones, not in the
sensitivity and specificity.

Reported: obstruction sensitivity and specificity, 4-class verdict accuracy and leak
accuracy with Wilson 95% intervals; median bladder-arrival error where the arrival
happens during the run; the calibration of the confidence (reliability table, expected
calibration error, mean confidence on wrong answers); per-scenario accuracy; and the
decidable series split by whether their last image shows the kidney (the rule's
retention is read on it: where it does not, "indeterminate" is the analysis's answer,
and the strict figures above count it wrong).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.analysis_accuracy import reliability, wilson  # noqa: E402
from bench.indsim import SCENARIOS, simulate  # noqa: E402
from nephro.analysis import analyze_paths  # noqa: E402
from nephro.analysis.verdict import Drainage, decide  # noqa: E402

TEST_SEED_BASE = 100_000
DEV_SEED_BASE = 0
# The scenarios whose truth expects "indeterminate" whatever the drainage.
UNDECIDABLE = frozenset({"no_contrast", "tube_displaced", "chest", "blank", "pelvis_only"})
TWENTY_MIN_S = 20 * 60


def _iodine_at(truth: dict[str, Any], t_s: float) -> float | None:
    """The collecting system's iodine at t_s (linear between samples), or None past them."""
    curve = truth["collecting_system_iodine"]
    times, mg = curve["times_s"], curve["mg"]
    if not times or t_s > times[-1]:
        return None
    return float(np.interp(t_s, times, mg))


def _upper_residual(truth: dict[str, Any], last_s: float) -> float | None:
    """Kidney + ureter iodine at the last image over its peak until then.

    The rule's retention is the upper tract's (collecting system and ureter), as in our
    phantom's truth: the collecting system alone empties into the dilated column above a
    ureteric or uretero-vesical block, which is not drainage.
    """
    curve = truth["collecting_system_iodine"]
    times = np.asarray(curve["times_s"], dtype=float)
    upper = np.asarray(curve["mg"], dtype=float)
    ureter = truth.get("compartments_mg", {}).get("ureter")
    if ureter is not None:
        upper = upper + np.asarray(ureter, dtype=float)
    seen = times <= last_s
    peak = float(upper[seen].max()) if seen.any() else 0.0
    if peak <= 0:
        return truth["residual_fraction_last_film"]
    return float(np.interp(last_s, times, upper)) / peak


def expected(truth: dict[str, Any]) -> str:
    """The verdict the rule gives on the simulator's truth."""
    if truth["scenario"] in UNDECIDABLE or truth.get("out_of_distribution"):
        return "indeterminate"
    first = min(image["t_s"] for image in truth["images"])
    last = max(image["t_s"] for image in truth["images"])
    peak = truth["collecting_system_peak_mg"] or 0.0
    at_20 = _iodine_at(truth, TWENTY_MIN_S)
    arrival = truth["bladder_arrival_s"]
    return decide(
        Drainage(
            arrival_s=None if arrival is None else arrival - first,
            t_half_s=truth["clearance_half_time_s"],
            residual_20min=None if at_20 is None or not peak else at_20 / peak,
            upper_residual_last=_upper_residual(truth, last),
            span_s=last - first,
            tube_open=truth["tube_open"],
            contrast_seen=truth["contrast_given"] and not truth["injection_failed"],
        )
    ).verdict


def kidney_in_last_image(truth: dict[str, Any]) -> bool:
    """The last image shows at least 90 % of the kidney (the truth's field fraction).

    The rule's retention is read on the last film; where that film misses the kidney
    the analysis says so (indeterminate), and the report shows both groups apart.
    """
    last = max(truth["images"], key=lambda image: image["t_s"])
    return float(last.get("kidney_fraction_in_field", 1.0)) >= 0.9


def unseen_bladder(truth: dict[str, Any]) -> bool:
    """The bladder is never in the field and the ureter leaves it."""
    return truth.get("bladder_visibility") == "never" and bool(truth.get("ureter_leaves_field"))


def accepted(truth: dict[str, Any]) -> list[str]:
    """The verdicts counted right (see the module docstring)."""
    rule = expected(truth)
    if rule != "indeterminate" and unseen_bladder(truth):
        return ["indeterminate"] + (["obstructed"] if rule == "obstructed" else [])
    return [rule]


def simulated(scenario: str, seed: int, cache: Path | None, tmp: Path) -> tuple[dict, Path]:
    """The case's truth and folder: from ``cache`` when it was simulated before."""
    if cache is None:
        return simulate(scenario, seed, tmp), tmp
    folder = cache / f"{scenario}-{seed}"
    truth_file = folder / "truth-bench.json"
    if not truth_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        truth_file.write_text(json.dumps(simulate(scenario, seed, folder), default=str))
    return json.loads(truth_file.read_text()), folder


def reached_kidney(truth: dict[str, Any]) -> bool:
    """Contrast was given, reached the collecting system, and some image shows the kidney."""
    return (
        bool(truth.get("contrast_given"))
        and not truth.get("injection_failed")
        and not truth.get("tube_displaced")
        and bool(truth.get("kidney_ever_in_view", True))
    )


def on_dev_seeds(
    case: Callable[[tuple[str, int, Path | None]], Any], argv: list[str] | None, doc: str
) -> list[Any]:
    """``case`` run on the development seeds the command line asks for (``--cases``,
    ``--workers``, ``--cache``): its rows (None, a case it leaves out, dropped), written to
    ``--json`` too."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--cases", type=int, default=240)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="keep simulated series here (reused)")
    parser.add_argument("--json", type=Path, help="write every case's row here")
    args = parser.parse_args(argv)
    jobs = [
        (SCENARIOS[i % len(SCENARIOS)], DEV_SEED_BASE + i, args.cache) for i in range(args.cases)
    ]
    with mp.Pool(args.workers) as pool:
        rows = [r for r in pool.map(case, jobs, chunksize=1) if r is not None]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    return rows


def run_case(job: tuple[str, int, Path | None]) -> dict[str, Any]:
    scenario, seed, cache = job
    with tempfile.TemporaryDirectory(prefix="nephro-indsim-") as tmp:
        truth, folder = simulated(scenario, seed, cache, Path(tmp))
        paths = [p for p in folder.iterdir() if p.suffix == ".dcm"]
        result = analyze_paths([str(p) for p in paths], side=truth.get("side"))
    pred = result.to_dict(curves=False)
    first = min(image["t_s"] for image in truth["images"])
    arrival = truth["bladder_arrival_s"]
    return {
        "scenario": scenario,
        "seed": seed,
        "expected": expected(truth),
        "accepted": accepted(truth),
        "undecidable": scenario in UNDECIDABLE
        or bool(truth.get("out_of_distribution"))
        or unseen_bladder(truth),
        "leak": bool(truth["leak"]),
        "kidney_in_last_image": kidney_in_last_image(truth),
        "arrival_s": None if arrival is None else arrival - first,
        "arrival_during_run": truth.get("bladder_arrival_during") == "run",
        "pred": {
            k: pred.get(k)
            for k in (
                "verdict",
                "confidence",
                "rule",
                "score",
                "reasons",
                "leak",
                "obstruction_level",
            )
        }
        | {"bladder_arrival_s": pred.get("bladder_arrival_s")},
    }


def right(row: dict[str, Any]) -> bool:
    return row["pred"]["verdict"] in row["accepted"]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    decidable = [r for r in rows if not r["undecidable"]]
    pos = [r for r in decidable if r["expected"] == "obstructed"]
    neg = [r for r in decidable if r["expected"] != "obstructed"]
    correct = [r for r in rows if right(r)]
    wrong = [r for r in rows if not right(r)]
    leak_right = [r for r in decidable if bool(r["pred"]["leak"]) == r["leak"]]
    timed = [
        abs(r["pred"]["bladder_arrival_s"] - r["arrival_s"])
        for r in decidable
        if r["arrival_during_run"] and r["pred"]["bladder_arrival_s"] is not None
    ]
    ood = [r for r in rows if r["undecidable"]]
    shown = [r for r in decidable if r.get("kidney_in_last_image", True)]
    missed = [r for r in decidable if not r.get("kidney_in_last_image", True)]
    table, ece = reliability([(r["pred"]["confidence"], right(r)) for r in rows])
    by_scenario = defaultdict(list)
    for r in rows:
        by_scenario[r["scenario"]].append(r)
    return {
        "cases": len(rows),
        "sensitivity": wilson(sum(r["pred"]["verdict"] == "obstructed" for r in pos), len(pos)),
        "specificity": wilson(sum(r["pred"]["verdict"] != "obstructed" for r in neg), len(neg)),
        "accuracy": wilson(len(correct), len(rows)),
        "leak_accuracy": wilson(len(leak_right), len(decidable)),
        "arrival_median_error_s": statistics.median(timed) if timed else None,
        "arrival_cases": len(timed),
        "undecidable_indeterminate": wilson(sum(right(r) for r in ood), len(ood)),
        "kidney_in_last_image": wilson(sum(right(r) for r in shown), len(shown)),
        "kidney_not_in_last_image": wilson(sum(right(r) for r in missed), len(missed)),
        "kidney_not_in_last_image_indeterminate": wilson(
            sum(r["pred"]["verdict"] == "indeterminate" for r in missed), len(missed)
        ),
        "unseen_bladder": sum(r["undecidable"] and r["scenario"] not in UNDECIDABLE for r in rows),
        "ece": ece,
        "reliability": table,
        "mean_confidence_wrong": statistics.fmean(r["pred"]["confidence"] or 0 for r in wrong)
        if wrong
        else None,
        "confusion": Counter(f"{r['expected']}->{r['pred']['verdict']}" for r in rows),
        "per_scenario": {
            name: wilson(sum(right(r) for r in members), len(members))
            for name, members in sorted(by_scenario.items())
        },
    }


def _ci(x: tuple[float, float, float]) -> str:
    return f"{x[0]:.3f} ({x[1]:.3f}-{x[2]:.3f})"


def report(s: dict[str, Any]) -> str:
    lines = [
        f"independent simulator, {s['cases']} cases",
        f"obstruction sensitivity   {_ci(s['sensitivity'])}   target >= 0.95",
        f"obstruction specificity   {_ci(s['specificity'])}   target >= 0.95",
        f"4-class verdict accuracy  {_ci(s['accuracy'])}   target >= 0.85",
        f"leak accuracy             {_ci(s['leak_accuracy'])}   target >= 0.90",
        f"arrival median error      {s['arrival_median_error_s']} s over {s['arrival_cases']}"
        " cases   target <= 5 s",
        f"out-of-distribution/undecidable -> indeterminate  {_ci(s['undecidable_indeterminate'])}"
        f"   target 1.0 ({s['unseen_bladder']} of them: bladder never in the field)",
        "decidable series by whether the last image shows the kidney (>= 90 %): accuracy"
        f" {_ci(s['kidney_in_last_image'])} where it does; {_ci(s['kidney_not_in_last_image'])}"
        f" where it does not (answered indeterminate"
        f" {_ci(s['kidney_not_in_last_image_indeterminate'])})",
        f"expected calibration error {s['ece']:.3f}   target <= 0.10",
        f"mean confidence when wrong {s['mean_confidence_wrong']}   target <= 0.6",
        "reliability (confidence bin: cases, mean confidence, accuracy):",
        *(f"  {lo:.1f}-{hi:.1f}: {n}, {c:.2f}, {a:.2f}" for lo, hi, n, c, a in s["reliability"]),
        "per scenario (verdict accuracy):",
        *(f"  {name:18s} {_ci(x)}" for name, x in s["per_scenario"].items()),
        "confusion (expected->predicted): "
        + ", ".join(f"{k} {v}" for k, v in sorted(s["confusion"].items())),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=len(SCENARIOS) * 10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dev", action="store_true", help="development seeds 0-9999")
    parser.add_argument("--json", type=Path, help="write every case's row here")
    parser.add_argument(
        "--cache", type=Path, help="keep simulated dev cases in this folder (development only)"
    )
    parser.add_argument("--show-errors", action="store_true", help="list wrong verdicts")
    args = parser.parse_args(argv)
    base = DEV_SEED_BASE if args.dev else TEST_SEED_BASE
    cache = args.cache if args.dev else None
    jobs = [(SCENARIOS[i % len(SCENARIOS)], base + i, cache) for i in range(args.cases)]
    with mp.Pool(args.workers) as pool:
        rows = pool.map(run_case, jobs, chunksize=1)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    print(report(summarise(rows)))
    if args.show_errors:
        for r in rows:
            if not right(r):
                print(
                    f"{r['scenario']:18s} {r['seed']:6d} expected {r['expected']:13s}"
                    f" got {r['pred']['verdict']} ({r['pred']['confidence']:.2f}):"
                    f" {'; '.join(r['pred']['reasons'] or [])[:220]}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
