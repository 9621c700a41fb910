"""What changed, case by case, between two runs of an accuracy bench.

Usage::

    python bench/compare.py BEFORE.json AFTER.json

Both files are the ``--json`` output of the same bench (``analysis_independent.py`` or
``analysis_accuracy.py``), run on the same seeds. Prints each case whose verdict, rule
or leak call moved, marked ``+`` (wrong before, right after), ``-`` (right before,
wrong after) or ``=`` (as right or as wrong as before), then the net count: what a
changelog entry reports as "155 -> 154 (two right, three lost)". A verdict is right
when the bench accepts it (indsim: ``accepted``; our phantom: the truth's verdict).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def key(row: Row) -> str:
    return f"{row['scenario']}-{row['seed']}"


def right(row: Row) -> bool:
    """The verdict is one the bench accepts for the case."""
    accepted = row["accepted"] if "accepted" in row else [row["gt"]["verdict"]]
    return bool(row["pred"]["verdict"] in accepted)


def leak_right(row: Row) -> bool:
    truth = row["leak"] if "leak" in row else row["gt"]["leak"]
    return bool(row["pred"]["leak"]) == bool(truth)


def _call(row: Row) -> str:
    pred = row["pred"]
    return f"{pred['verdict']}/{pred['rule']}{' leak' if pred['leak'] else ''}"


def changes(before: list[Row], after: list[Row]) -> list[tuple[str, str, str, str]]:
    """(case, mark, before's call, after's call) for every case whose call moved; the
    mark counts the verdict, or the leak call where only that moved."""
    old = {key(r): r for r in before}
    out = []
    for row in after:
        was = old.get(key(row))
        if was is None or _call(was) == _call(row):
            continue
        judge = right if was["pred"]["verdict"] != row["pred"]["verdict"] else leak_right
        a, b = judge(was), judge(row)
        mark = "=" if a == b else ("+" if b else "-")
        out.append((key(row), mark, _call(was), _call(row)))
    return out


def report(before: list[Row], after: list[Row]) -> str:
    lines = [f"{case:24s} {mark} {a} -> {b}" for case, mark, a, b in changes(before, after)]
    common = {key(r) for r in before} & {key(r) for r in after}
    n_before = sum(right(r) for r in before if key(r) in common)
    n_after = sum(right(r) for r in after if key(r) in common)
    # Leaks are scored where the bench scores them: not on indsim's undecidable series.
    judged = {key(r) for r in after if key(r) in common and not r.get("undecidable")}
    leaks = [sum(leak_right(r) for r in rows if key(r) in judged) for rows in (before, after)]
    lines.append(
        f"verdicts right {n_before} -> {n_after} of {len(common)}; "
        f"leak calls right {leaks[0]} -> {leaks[1]} of {len(judged)}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: python bench/compare.py BEFORE.json AFTER.json", file=sys.stderr)
        return 2
    before, after = (json.loads(Path(p).read_text()) for p in args)
    print(report(before, after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
