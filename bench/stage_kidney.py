"""Where the analysis put the collecting system, against the simulator's anatomy.

A stage of bench/analysis_stages.py: the analysis reads every curve inside the
kidney's outline, so an outline on a vertebra's subtraction residue or on the
diaphragm's edge reads nothing right downstream, whatever the other stages do. The
independent simulator records where the renal pelvis lies in the patient (cm, x to the
patient's left, z to the head) and each image's geometry; from them the pelvis is put
on the analysis grid of the template frame and the outline's distance to it measured.
Only series whose template is a run frame are judged: the run's frames are read on
their own grid, while films are resampled and registered onto it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nephro.analysis.pipeline import Trace

AT_PELVIS_MM = 15.0
"""The outline is at the pelvis when it comes this close to it (at the kidney's
depth): a collecting system is 3-5 cm across, breathing moves it 1-4 cm."""


def pelvis_on_grid(
    truth: dict[str, Any], image: dict[str, Any], bin_factor: int
) -> tuple[float, float]:
    """(row, column) of the renal pelvis on ``image``'s analysis grid (its pixels
    binned by ``bin_factor``), at the image's breathing phase and patient shift."""
    pelvis_x, pelvis_z = truth["anatomy"]["renal_pelvis_xz_cm"]
    shift_x, shift_z = image.get("patient_shift_xz_cm", (0.0, 0.0))
    centre_x, centre_z = image["center_xz_cm"]
    scale = 10.0 * image["magnification_kidney"] / image["imager_pixel_mm"]  # pixels per cm
    col = image["cols"] / 2 + (pelvis_x + shift_x - centre_x) * scale
    row = (
        image["rows"] / 2 - (pelvis_z + shift_z + image.get("breath_dz_cm", 0.0) - centre_z) * scale
    )
    if truth.get("mirrored"):
        col = image["cols"] - col
    return row / bin_factor - 0.5, col / bin_factor - 0.5


def kidney_row(
    truth: dict[str, Any], images: list[dict[str, Any]], trace: Trace, bin_factor: int
) -> dict[str, Any] | None:
    """The outline's distance (mm at the kidney) to the true pelvis on the template
    frame, and whether it is at the pelvis; None when no kidney was outlined or the
    template is not a run frame. ``images``: the truth's, in time order (the series')."""
    kidney, keep = trace.kidney, trace.keep
    if kidney is None or keep is None:
        return None
    image = images[int(keep[kidney.template_frame])]
    ys, xs = np.nonzero(kidney.outline)
    if image["kind"] != "run" or ys.size == 0:
        return None
    row, col = pelvis_on_grid(truth, image, bin_factor)
    mm = bin_factor * image["imager_pixel_mm"] / image["magnification_kidney"]
    distance = float(np.min(np.hypot(ys - row, xs - col))) * mm
    return {"distance_mm": distance, "at_pelvis": distance <= AT_PELVIS_MM}


def kidney_summary(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """(at the pelvis, judged) over the series' kidney rows."""
    judged = [r for r in rows if r]
    return sum(r["at_pelvis"] for r in judged), len(judged)
