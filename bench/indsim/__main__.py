"""Command line: ``python -m bench.indsim --scenario NAME --seed N --out DIR``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .engine import simulate
from .scenarios import SCENARIOS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.indsim", description=__doc__)
    ap.add_argument("--scenario", required=True, choices=SCENARIOS)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override a choice, e.g. --set mirror=true --set max_frames=30",
    )
    args = ap.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, _, val = item.partition("=")
        try:
            overrides[key] = json.loads(val)
        except json.JSONDecodeError:
            overrides[key] = val
    t0 = time.perf_counter()
    truth = simulate(args.scenario, args.seed, args.out, **overrides)
    print(
        f"{args.scenario} seed {args.seed}: {len(truth['files'])} files, "
        f"{truth['run']['n_frames']} run frames, {len(truth['film_times_s'])} films, "
        f"{time.perf_counter() - t0:.2f} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
