"""Fit the drainage analysis's confidence calibration from development cases.

Usage::

    python bench/analysis_accuracy.py --dev --cases 60 --json /tmp/phantom.json
    python bench/analysis_independent.py --dev --cases 60 --json /tmp/indsim.json
    python bench/calibrate.py /tmp/phantom.json /tmp/indsim.json [--write]
    python bench/calibrate.py --evaluate ROWS.json   # any rows, held-out included

``--evaluate`` maps each row's (rule, verdict, score) through the stored map, exactly
as ``verdict.confidence`` does, and prints the reliability table, the expected
calibration error and the mean confidence on wrong answers: rows recorded before the
map was stored are judged as the code with the map answers.

Each row holds the analysis's verdict, its uncalibrated score (the margin to the limits
that decided, ``pred.score``), the branch of the rule that decided (``pred.rule``) and
the expected verdict (``gt.verdict`` from our phantom, ``expected`` from the
independent simulator). Rows from held-out seeds (>= 100000) are refused: calibration
is fitted on development seeds only and measured on held-out ones by the benches.

The map is isotonic regression (pool-adjacent-violators) of "the verdict was right" on
the score, fitted per branch of the rule (retention split by where the column stops,
``verdict.branch``) where a branch has at least MIN_CASES cases,
else per verdict, else over all cases; each block's accuracy is Laplace-smoothed
((right + 1) / (cases + 2)) so a handful of right answers never reads as certainty.
Both simulators' cases are pooled with equal total weight. ``--write`` stores the
maps in ``nephro/analysis/calibration.json`` (read by ``verdict.calibrated``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.analysis_accuracy import reliability  # noqa: E402
from nephro.analysis.verdict import CALIBRATION_FILE, branch, map_for  # noqa: E402

HELD_OUT_SEED_BASE = 100_000
MIN_CASES = 20
MIN_BLOCK = 5
"""Cases a block of the map holds at least: a smaller one is pooled with the neighbour
nearer in accuracy, so a step of the map never rests on one or two cases (a single
wrong case at the low end of a branch had made its confidence 0.33)."""


def cases(path: Path, *, held_out_ok: bool = False) -> list[tuple[str, str, float, bool, float]]:
    """(rule, verdict, score, right, weight) of every row in a bench's JSON file."""
    rows = json.loads(path.read_text())
    out = []
    for r in rows:
        if r["seed"] >= HELD_OUT_SEED_BASE and not held_out_ok:
            raise SystemExit(f"{path}: seed {r['seed']} is held out; calibrate on --dev rows")
        pred = r["pred"]
        accepted = r.get("accepted") or [r["expected"] if "expected" in r else r["gt"]["verdict"]]
        if pred.get("score") is None or pred.get("rule") is None:
            raise SystemExit(f"{path}: rows lack the score or rule; rerun the bench")
        rule = branch(pred["rule"], pred.get("obstruction_level"))
        out.append((rule, pred["verdict"], float(pred["score"]), pred["verdict"] in accepted))
    return [(rule, v, s, ok, 1.0 / len(out)) for rule, v, s, ok in out]


def isotonic(
    score: list[float], right: list[bool], weight: list[float]
) -> tuple[list[float], list[float]]:
    """Non-decreasing accuracy as a function of the score (pool adjacent violators).

    Returns breakpoints (score, accuracy) at both ends of each pooled block, for
    linear interpolation; block accuracies are Laplace-smoothed by case count.
    """
    # Equal scores are one point (their pooled accuracy), so the map is a function.
    s, inverse = np.unique(np.asarray(score, float), return_inverse=True)
    w = np.bincount(inverse, weights=np.asarray(weight, float))
    y = np.bincount(inverse, weights=np.asarray(right, float) * weight) / w
    counts = np.bincount(inverse)
    blocks: list[list[float]] = []  # [weighted right, weight, cases, first score, last score]
    for si, yi, wi, ni in zip(s, y, w, counts, strict=True):
        blocks.append([yi * wi, wi, float(ni), si, si])
        while len(blocks) > 1 and _mean(blocks[-2]) >= _mean(blocks[-1]):
            _merge(blocks, len(blocks) - 2)
    _pool_small(blocks)
    xs: list[float] = []
    ys: list[float] = []
    for k_w, w_sum, n, lo, hi in blocks:
        acc = (k_w / w_sum * n + 1.0) / (n + 2.0)
        for x in (lo, hi) if hi > lo else (lo,):
            xs.append(round(float(x), 4))
            ys.append(round(float(acc), 4))
    # Keep the map non-decreasing after smoothing (smaller blocks shrink more).
    ys = list(np.maximum.accumulate(ys))
    return xs, ys


def _pool_small(blocks: list[list[float]]) -> None:
    """Pool every block of fewer than MIN_BLOCK cases with the neighbour nearer in
    accuracy (in place). Pooling two adjacent blocks of a non-decreasing sequence keeps
    it non-decreasing."""
    while len(blocks) > 1 and (small := [i for i, b in enumerate(blocks) if b[2] < MIN_BLOCK]):
        i = min(small, key=lambda k: blocks[k][2])
        if i == 0:
            j = 1
        elif i == len(blocks) - 1:
            j = i - 1
        else:
            gap = [abs(_mean(blocks[k]) - _mean(blocks[i])) for k in (i - 1, i + 1)]
            j = i - 1 if gap[0] <= gap[1] else i + 1
        _merge(blocks, min(i, j))


def _merge(blocks: list[list[float]], a: int) -> None:
    """Pool block ``a + 1`` into block ``a`` (in place)."""
    b = blocks.pop(a + 1)
    blocks[a][0] += b[0]
    blocks[a][1] += b[1]
    blocks[a][2] += b[2]
    blocks[a][4] = b[4]


def _mean(block: list[float]) -> float:
    return block[0] / block[1]


def fit(all_cases: list[tuple[str, str, float, bool, float]]) -> dict[str, Any]:
    groups: dict[str, list[tuple[str, str, float, bool, float]]] = defaultdict(list)
    for c in all_cases:
        groups[f"rule:{c[0]}"].append(c)
        if ":" in c[0]:
            groups[f"rule:{c[0].split(':')[0]}"].append(c)
        groups[f"verdict:{c[1]}"].append(c)
        groups["all"].append(c)
    maps = {}
    for key, members in sorted(groups.items()):
        if len(members) < MIN_CASES and key != "all":
            continue
        xs, ys = isotonic([m[2] for m in members], [m[3] for m in members], [m[4] for m in members])
        maps[key] = {"cases": len(members), "score": xs, "accuracy": ys}
    return maps


def apply(maps: dict[str, Any], rule: str, verdict: str, score: float) -> float:
    m = map_for(maps, rule, verdict)
    assert m is not None  # fit() always fits "all"
    return float(np.interp(score, m["score"], m["accuracy"]))


def evaluate(paths: list[Path]) -> int:
    maps = json.loads(CALIBRATION_FILE.read_text())["maps"]
    for path in paths:
        pairs = [(apply(maps, r, v, s), ok) for r, v, s, ok, _ in cases(path, held_out_ok=True)]
        table, ece = reliability(pairs)
        wrong = [c for c, ok in pairs if not ok]
        mean_wrong = sum(wrong) / len(wrong) if wrong else 0.0
        print(
            f"{path}: {len(pairs)} cases, ECE {ece:.3f},"
            f" mean confidence when wrong {mean_wrong:.2f}"
        )
        for lo, hi, n, c, acc in table:
            print(f"  {lo:.1f}-{hi:.1f}: {n}, {c:.2f}, {acc:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=Path, nargs="+", help="JSON rows of --dev bench runs")
    parser.add_argument("--write", action="store_true", help="store the maps (see above)")
    parser.add_argument("--evaluate", action="store_true", help="judge rows with the stored map")
    args = parser.parse_args(argv)
    if args.evaluate:
        return evaluate(args.rows)
    all_cases = [c for path in args.rows for c in cases(path)]
    maps = fit(all_cases)
    # In sample, and two-fold cross-fitted (fit on one half, judged on the other).
    _, ece = reliability([(apply(maps, r, v, s), ok) for r, v, s, ok, _ in all_cases])
    print(f"in sample: {len(all_cases)} cases, ECE {ece:.3f}")
    halves = (all_cases[0::2], all_cases[1::2])
    cross = []
    for a, b in (halves, halves[::-1]):
        m = fit(a)
        cross += [(apply(m, r, v, s), ok) for r, v, s, ok, _ in b]
    table, ece = reliability(cross)
    wrong = [c for c, ok in cross if not ok]
    print(
        f"two-fold cross-fitted: ECE {ece:.3f}, mean confidence when wrong "
        f"{(sum(wrong) / len(wrong)) if wrong else 0:.2f}"
    )
    for lo, hi, n, c, acc in table:
        print(f"  {lo:.1f}-{hi:.1f}: {n}, {c:.2f}, {acc:.2f}")
    for key, m in maps.items():
        print(f"{key:28s} {m['cases']:4d} cases, {len(m['score'])} breakpoints")
    if args.write:
        CALIBRATION_FILE.write_text(
            json.dumps(
                {
                    "source": "bench/calibrate.py on development seeds (0-9999) of our phantom "
                    "and of bench/indsim: " + ", ".join(p.name for p in args.rows),
                    "method": "isotonic regression of right/wrong on the score, per rule branch"
                    f" (>= {MIN_CASES} cases) else per verdict else all; Laplace-smoothed",
                    "maps": maps,
                },
                indent=1,
            )
            + "\n"
        )
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
