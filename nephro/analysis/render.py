"""Evidence picture: frames with outlined structures, and the time-intensity curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: called from the CLI and from background workers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from nephro.analysis.result import AnalysisResult  # noqa: E402

_COLOURS = {
    "collecting system": "#1f77b4",
    "ureter": "#2ca02c",
    "bladder": "#ff7f0e",
    "leak": "#d62728",
    "tube": "#9467bd",
}


def _outline(ax: Axes, mask: NDArray[np.bool_], colour: str) -> None:
    if mask is not None and mask.any():
        ax.contour(mask.astype(float), levels=[0.5], colors=[colour], linewidths=1.2)


def render_png(result: AnalysisResult, out_path: Path, *, dpi: int = 100) -> Path:
    """Draw the evidence of ``result`` into a PNG at ``out_path`` and return the path.

    Panels: the scout, the frame where the collecting system is fullest and the last
    film (subtracted, contrast dark), each with outlines of the segmented structures,
    then the curves of collecting system, ureter, bladder and leak over time.
    """
    out_path = Path(out_path)
    fig = plt.figure(figsize=(13, 7.5))
    gs = fig.add_gridspec(2, 3, height_ratios=[1.25, 1])
    ev = result.evidence
    title = f"Verdict: {result.verdict} (confidence {result.confidence:.2f})"
    if result.leak:
        title += " - leak"
    fig.suptitle(title, fontsize=13)
    if ev is not None:
        panels = [
            ("scout", ev.background, None, False),
            (f"fullest, {ev.early_time_s:.0f} s", ev.early, "early", True),
            (f"last film, {ev.late_time_s:.0f} s", ev.late, "late", True),
        ]
        for col, (name, img, which, subtracted) in enumerate(panels):
            ax = fig.add_subplot(gs[0, col])
            if subtracted:
                hi = float(np.percentile(img, 99.7)) or 1.0
                ax.imshow(img, cmap="gray_r", vmin=-0.15 * hi, vmax=hi)
            else:
                ax.imshow(img, cmap="gray")
            if which == "early":
                _outline(ax, ev.collecting_system, _COLOURS["collecting system"])
                _outline(ax, ev.tube, _COLOURS["tube"])
            elif which == "late":
                _outline(ax, ev.collecting_system_late, _COLOURS["collecting system"])
                _outline(ax, ev.ureter, _COLOURS["ureter"])
                _outline(ax, ev.bladder, _COLOURS["bladder"])
                _outline(ax, ev.leak, _COLOURS["leak"])
            ax.set_title(name, fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
    ax = fig.add_subplot(gs[1, :2])
    c = result.curves
    if c.get("t_s"):
        t = np.asarray(c["t_s"]) / 60.0
        for key, label in (
            ("collecting_system", "collecting system"),
            ("ureter", "ureter"),
            ("bladder", "bladder"),
            ("leak", "leak"),
        ):
            vals = np.asarray(c.get(key, []))
            if vals.size and np.any(vals != 0):
                ax.plot(t, vals, ".-", ms=3, lw=1, color=_COLOURS[label], label=label)
        if result.bladder_arrival_s is not None:
            ax.axvline(result.bladder_arrival_s / 60.0, color=_COLOURS["bladder"], ls=":")
        ax.set_xscale("symlog", linthresh=2.0)
        ax.set_xlabel("time from first frame (min)")
        ax.set_ylabel("contrast (sum of log signal)")
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
    ax = fig.add_subplot(gs[1, 2])
    ax.axis("off")
    lines = [f"- {r}" for r in result.reasons] or ["- (no reasons)"]
    if result.quality:
        lines.append("quality: " + ", ".join(result.quality))
    ax.text(
        0, 1, "\n".join(_wrap(x, 48) for x in lines), va="top", fontsize=8.5, family="monospace"
    )
    fig.tight_layout()
    fig.savefig(out_path, dpi=dpi)
    plt.close(fig)
    return out_path


def _wrap(text: str, width: int) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width and cur:
            lines.append(cur)
            cur = "  " + w
        else:
            cur = f"{cur} {w}".strip() if cur else w
    if cur:
        lines.append(cur)
    return "\n".join(lines)
