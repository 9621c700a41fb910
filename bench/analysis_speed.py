"""Speed and memory of the drainage analysis against plain decoding.

Usage::

    python bench/analysis_speed.py [--frames 150] [--size 512] [--repeat 3]

For a 150-frame 512x512 series stored uncompressed and as RLE, prints:

* baseline: ``pydicom.dcmread(path).pixel_array`` (read and decode the pixel data
  alone, pylibjpeg-rle for RLE);
* analysis: ``analyze_paths([path])`` end to end (read, decode, bin, register,
  segment, measure, verdict), and of it the loading alone (``load_series``: read,
  decode, bin, log), so the stages' share is the difference;
* their ratio (target <= 1.5) and the analysis's peak traced memory over the size of
  the decoded pixel data (target < 3);
* the time to generate the small demo case (``generate_case("patent", 7, ...,
  size=256, max_run_frames=26)``, 29 frames, what ``nephro demo`` makes; target < 1 s).

Times are the best of ``--repeat`` runs with a warm file cache.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pydicom  # noqa: E402

from nephro.analysis import analyze_paths, generate_case  # noqa: E402
from nephro.analysis.series import load_series  # noqa: E402


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_memory(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"Nephro analysis speed: {args.frames} frames x {args.size}^2, best of {args.repeat}")
    with tempfile.TemporaryDirectory(prefix="nephro-speed-") as tmp:
        for syntax in ("explicit", "rle"):
            folder = Path(tmp) / syntax
            # Spot films at 5/10/20 min after a run of (frames - 3) frames.
            truth = generate_case(
                "patent",
                4242,
                folder,
                size=args.size,
                max_run_frames=args.frames - 3,
                spot_times_s=(600.0, 900.0, 1200.0),
                fps=2.0,
                run_duration_s=300.0,
                layout="multiframe",
                syntax=syntax,
                photometric="MONOCHROME2",
                bits_stored=12,
            )
            path = truth.files[0]
            n = int(pydicom.dcmread(path, stop_before_pixels=True).NumberOfFrames)
            pixel_bytes = n * args.size * args.size * 2

            def baseline(p: Path = path) -> Any:
                return pydicom.dcmread(p).pixel_array

            def analysis(p: Path = path) -> Any:
                return analyze_paths([p])

            t_base = best_of(baseline, args.repeat)
            t_ana = best_of(analysis, args.repeat)
            t_load = best_of(lambda p=path: load_series([p]), args.repeat)
            mem = peak_memory(analysis)
            mem_base = peak_memory(baseline)
            verdict = analysis().verdict
            print(
                f"  {syntax:9s} {n} frames, pixel data {pixel_bytes / 1e6:.1f} MB, "
                f"file {path.stat().st_size / 1e6:.1f} MB"
            )
            print(
                f"    baseline read+decode {t_base:.3f} s ({1000 * t_base / n:.2f} ms/frame), "
                f"peak memory {mem_base / 1e6:.1f} MB"
            )
            print(
                f"    analysis             {t_ana:.3f} s ({1000 * t_ana / n:.2f} ms/frame), "
                f"peak memory {mem / 1e6:.1f} MB = {mem / pixel_bytes:.2f}x pixel data "
                f"(target < 3)"
            )
            print(
                f"    of which loading     {t_load:.3f} s ({t_load / t_base:.2f}x baseline); "
                f"the stages after it {t_ana - t_load:.3f} s"
            )
            print(
                f"    ratio analysis/baseline {t_ana / t_base:.2f} (target <= 1.5); "
                f"verdict {verdict}"
            )
        demo = Path(tmp) / "demo"

        def make_demo() -> Any:
            return generate_case("patent", 7, demo, size=256, max_run_frames=26, syntax="explicit")

        t_demo = best_of(make_demo, args.repeat)
        print(
            f"  demo case (256^2, {make_demo().frames} frames) generated in {t_demo:.3f} s "
            "(target < 1 s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
