"""Command-line entry points: ``nephro analyze`` and ``nephro phantom``.

Exit codes of ``nephro analyze``: 0 analysis done (any verdict, including
indeterminate), 2 input not usable (message on stderr; with ``--json`` stdout still
gets exactly one JSON object with ``"error"`` set).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nephro.analysis import analyze_paths, render_png
from nephro.analysis.dicomio import LAYOUTS, SYNTAXES, jpeg_lossless_available
from nephro.analysis.generate import generate_case
from nephro.analysis.phantom import SCENARIOS
from nephro.analysis.result import AnalysisResult

EXIT_OK = 0
EXIT_UNUSABLE = 2


def _summary(result: AnalysisResult) -> str:
    def t(v: float | None) -> str:
        if v is None:
            return "-"
        m, s = divmod(int(round(v)), 60)
        return f"{m}:{s:02d} min"

    lines = [
        f"Verdict: {result.verdict.upper()}  (confidence {result.confidence:.2f})",
    ]
    if result.error:
        lines.append(f"Error: {result.error}")
    else:
        side = f"{result.side} ({result.side_source})" if result.side else "-"
        lines += [
            f"  frames {result.frames} over {t(result.span_s)}; kidney {side}",
            f"  bladder arrival           {t(result.bladder_arrival_s)}",
            f"  clearance half-time       {t(result.collecting_system_t_half_s)}",
            "  residual at last film     "
            + (
                f"{100 * result.residual_fraction_last:.0f}% (collecting system), "
                f"{100 * (result.upper_tract_residual_last or 0):.0f}% (kidney + ureter)"
                if result.residual_fraction_last is not None
                else "-"
            ),
            f"  obstruction level         {result.obstruction_level or '-'}",
            "  leak                      "
            + (f"yes, from {t(result.leak_onset_s)}" if result.leak else "no"),
        ]
    lines.append("Reasons:")
    lines += [f"  - {r}" for r in result.reasons]
    if result.quality:
        lines.append("Quality: " + ", ".join(result.quality))
    lines.append("Decision aid only: the radiologist's findings are the record.")
    return "\n".join(lines)


def analyze_main(argv: list[str]) -> int:
    """``nephro analyze PATH... [--side left|right] [--json] [--png FILE]``."""
    ap = argparse.ArgumentParser(
        prog="nephro analyze",
        description="Measure drainage in a nephrostogram series (DICOM files or folders).",
    )
    ap.add_argument("paths", nargs="+", type=Path, help="DICOM file(s) or folder(s)")
    ap.add_argument("--side", choices=("left", "right"), help="kidney side, if known")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--png", type=Path, help="write the evidence picture here")
    args = ap.parse_args(argv)
    result = analyze_paths(args.paths, side=args.side)
    if args.png is not None and result.error is None:
        try:
            render_png(result, args.png)
        except OSError as exc:
            print(f"nephro analyze: cannot write {args.png}: {exc}", file=sys.stderr)
            result.quality.append("png_not_written")
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(_summary(result))
    if result.error is not None:
        print(f"nephro analyze: error: {result.error}", file=sys.stderr)
        return EXIT_UNUSABLE
    return EXIT_OK


def phantom_main(argv: list[str]) -> int:
    """``nephro phantom --scenario NAME --seed N --out DIR [options]``."""
    ap = argparse.ArgumentParser(
        prog="nephro phantom",
        description="Write a synthetic nephrostogram (DICOM) and its ground truth (JSON).",
    )
    ap.add_argument("--scenario", choices=SCENARIOS, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--layout", choices=LAYOUTS, help="default: drawn from the seed")
    ap.add_argument("--syntax", choices=SYNTAXES, help="default: drawn from the seed")
    ap.add_argument("--photometric", choices=("MONOCHROME1", "MONOCHROME2"))
    ap.add_argument("--modality", choices=("RF", "XA"))
    ap.add_argument("--size", type=int, default=512, help="rows = columns (default 512)")
    ap.add_argument("--frames", type=int, help="cap on frames of the fluoroscopic run")
    ap.add_argument("--side", choices=("left", "right"))
    ap.add_argument("--mirror", action="store_true", help="flip the images left-right")
    ap.add_argument("--bits", type=int, choices=range(8, 17), metavar="8..16")
    ap.add_argument("--patient-id")
    ap.add_argument("--patient-name")
    ap.add_argument("--study-uid")
    ap.add_argument("--accession")
    args = ap.parse_args(argv)
    if args.syntax == "jpeg-lossless" and not jpeg_lossless_available():
        print("nephro phantom: error: jpeg-lossless needs dcmtk (dcmcjpeg)", file=sys.stderr)
        return EXIT_UNUSABLE
    opts: dict[str, object] = {"size": args.size}
    for key, value in (
        ("layout", args.layout),
        ("syntax", args.syntax),
        ("photometric", args.photometric),
        ("modality", args.modality),
        ("max_run_frames", args.frames),
        ("side", args.side),
        ("bits_stored", args.bits),
        ("patient_id", args.patient_id),
        ("patient_name", args.patient_name),
        ("study_instance_uid", args.study_uid),
        ("accession_number", args.accession),
    ):
        if value is not None:
            opts[key] = value
    if args.mirror:
        opts["mirror"] = True
    try:
        truth = generate_case(args.scenario, args.seed, args.out, **opts)
    except (ValueError, OSError) as exc:
        print(f"nephro phantom: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(
        f"wrote {len(truth.files)} file(s), {truth.frames} frames over "
        f"{truth.span_s / 60:.1f} min to {args.out} (truth: {truth.verdict}"
        f"{', leak' if truth.leak else ''})"
    )
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover - convenience for `python -m`
    cmd, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if cmd == "analyze":
        raise SystemExit(analyze_main(rest))
    if cmd == "phantom":
        raise SystemExit(phantom_main(rest))
    print("usage: python -m nephro.analysis.cli analyze|phantom ...", file=sys.stderr)
    raise SystemExit(2)
