"""Files of another matrix or field (spot films, a separate scout) on the run's grid.

They are resampled in the patient's plane by their pixel spacing at the patient, read
in the polarity whose anatomy correlates with the run's, and their intensity scale
matched to the run's (:func:`match_to`), since films carry their own dose, processing
and display polarity. What a film does not show (beyond its field, outside its
shutter: :mod:`nephro.analysis.shutter`) is left at the run's first frame and noted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from scipy import ndimage, stats

from nephro.analysis import shutter
from nephro.analysis import thresholds as th
from nephro.analysis.arrays import stretches
from nephro.analysis.pixels import Encoding, FloatArray, bin_factor_for, log_frames, pixel_mm
from nephro.analysis.polarity import polarity_open, reverse


def resample(
    frame: FloatArray, src_mm: float, shape: tuple[int, int], dst_mm: float
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """``frame`` (pixels of ``src_mm``) on a grid of ``shape`` and ``dst_mm`` pixels,
    both centred on the beam axis; and where the frame covers that grid.

    Pixels outside the frame's field are NaN (not seen).
    """
    h, w = shape
    scale = dst_mm / src_mm
    yy = (np.arange(h) + 0.5 - h / 2) * scale + frame.shape[0] / 2 - 0.5
    xx = (np.arange(w) + 0.5 - w / 2) * scale + frame.shape[1] / 2 - 0.5
    src = frame
    if scale > 1.5:
        # Average over the output pixel's footprint first (no aliasing of noise).
        src = ndimage.uniform_filter(frame, int(round(scale)), mode="nearest")
    out = ndimage.map_coordinates(
        src, np.meshgrid(yy, xx, indexing="ij"), order=1, mode="constant", cval=np.nan
    ).astype(np.float32)
    seen = np.isfinite(out)
    return out, seen


def correlation(film: FloatArray, ref: FloatArray, seen: NDArray[np.bool_]) -> float:
    """Rank correlation of the large-scale structure (body outline, bones) of two images
    where both are seen: negative when one is stored in the opposite polarity.

    Each image is smoothed over what both show alone (a mean that took in the unseen
    border as zero made a dark rim in both, which correlated whatever the polarity),
    and its values are ranked: a film's display curve (log, gamma) bends its values,
    and the bent extremes outweighed the rest (issue 14: films stored turned read
    +0.54).
    """
    ok = seen & np.isfinite(ref)
    if ok.sum() < 0.1 * ok.size:
        return 0.0
    weight = ndimage.uniform_filter(ok.astype(np.float32), 5)
    inner = ok & (weight > 0.999)
    if inner.sum() < 0.1 * ok.size:
        inner = ok
    # Every other pixel each way: the 5-pixel means vary little between neighbours.
    inner = inner[::2, ::2]
    f_s = ndimage.uniform_filter(np.where(ok, film, 0.0), 5)[::2, ::2][inner]
    r_s = ndimage.uniform_filter(np.where(ok, ref, 0.0), 5)[::2, ::2][inner]
    if f_s.size < 3 or np.ptp(f_s) == 0 or np.ptp(r_s) == 0:
        return 0.0  # a blank image has no anatomy to correlate
    # Spearman's: tied values (a window's clipped plateau) share their mean rank.
    return float(stats.spearmanr(f_s, r_s).statistic)


FILM_INVERTED_BELOW = -0.25
"""A stretch of the run's grid taken apart from the run, or a film resampled onto it
(:func:`read_film`), is read turned when its large-scale structure correlates with the
run's below this (:func:`stored_inverted`); nearer zero the film shows too little of
the run's anatomy to say, and its tags are believed where a sign tag states its
polarity (a resampled film without one is read in the polarity that matches better:
indsim dev, a tagless film stored turned read -0.18, a tagged one stored as its tags
say -0.06).
Engineering, development seeds (:func:`correlation`): the phantom's films stored as
their tags say at 0.32 or above (80 series with variations), those stored turned at
-0.48 or below (53 series); indsim's stretches 0.077 or above (240 series), the noise
of its blank series within 0.06 of zero. Halfway between the nearest of each."""


def stored_inverted(
    film: FloatArray, ref: FloatArray, seen: NDArray[np.bool_], stated: bool = True
) -> bool:
    """The film's anatomy runs opposite to the reference's: it is stored in the other
    polarity than its tags say. ``stated``: a Pixel Intensity Relationship Sign says
    its polarity, which only a clear opposite (FILM_INVERTED_BELOW) overrules; without
    one the polarity that matches the reference better is taken."""
    return correlation(film, ref, seen) < (FILM_INVERTED_BELOW if stated else 0.0)


def turn_inverted(
    out: FloatArray,
    times: list[float],
    file_of: dict[int, int],
    encodings: dict[int, Encoding],
    fields: dict[int, NDArray[np.bool_]],
) -> bool:
    """Turn the stretches of the run's grid taken apart from the run (spot films, a
    lone scout, bursts after a pause) whose anatomy runs opposite to the run's
    (:func:`stored_inverted`): stored in the opposite polarity to what their tags
    say. The run is the longest stretch, left as it is and the reference by its first
    frame; in every other stretch each file's frames are judged by the first of them,
    since each file has its own polarity (a film taken seconds after a burst of another
    file shares its stretch). Returns whether any was."""
    slots = np.asarray(sorted(file_of, key=lambda k: times[k]))
    parts = [slots[i] for i in stretches(np.asarray(times)[slots], th.SPOT_GAP_S)]
    run = max(range(len(parts)), key=lambda n: parts[n].size)
    ref = out[parts[run][0]]
    seen_ref = fields.get(int(parts[run][0]), np.ones(ref.shape, bool))
    turned = False
    for stretch in parts[:run] + parts[run + 1 :]:
        for file in dict.fromkeys(file_of[k] for k in stretch.tolist()):
            mine = [k for k in stretch.tolist() if file_of[k] == file]
            first = mine[0]
            seen = fields.get(first, np.ones(ref.shape, bool)) & seen_ref
            if not stored_inverted(out[first], ref, seen):
                continue
            for k in mine:
                out[k] = reverse(out[k], encodings[file])
            turned = True
    return turned


def match_to(film: FloatArray, ref: FloatArray, seen: NDArray[np.bool_]) -> FloatArray:
    """``film`` on ``ref``'s intensity scale, from where both are seen.

    A film has its own dose (an offset of log transmission) and processing (a gain).
    Anatomy is most of both images, so the film's quantiles are mapped linearly onto
    the reference's.
    """
    ok = seen & np.isfinite(ref)
    if ok.sum() < 0.1 * ok.size:
        return film
    q = np.linspace(5, 95, 19)
    fq = np.percentile(film[ok], q)
    rq = np.percentile(ref[ok], q)
    if float(np.std(fq)) <= 0:
        return film
    gain, offset = np.polyfit(fq, rq, 1)
    if gain <= 0:
        return film
    return (film * np.float32(gain) + np.float32(offset)).astype(np.float32)


def read_film(
    path: Path,
    ds: Dataset,
    out: FloatArray,
    slots: list[int],
    ref_slot: int,
    mm: tuple[float, float],
    fields: dict[int, NDArray[np.bool_]],
    header_end: int | None = None,
) -> tuple[int, bool]:
    """Decode a file of another matrix or field onto the run's grid (``out[slots]``);
    returns the index of the last frame read and whether the file was read turned
    (``header_end``: see :func:`nephro.analysis.pixels.read_header`).

    Resampled in the patient's plane, read turned where its anatomy runs opposite to
    the run's (:func:`stored_inverted`: films are sometimes stored in the opposite
    polarity to their tags, or have no sign tag) and matched to the run's intensity
    scale. Where the film does not reach or its shutter (or the reference's,
    ``fields[ref_slot]``) hides, the run's first frame is kept (unchanged for the
    subtraction) and ``fields[slot]`` notes what it shows.
    """
    src_mm, dst_mm = mm
    ref = out[ref_slot]
    shape = (out.shape[1], out.shape[2])
    # Shown: inside the film's shutter (resampled like its pixels) and the reference's.
    rows, cols = int(ds.Rows), int(ds.Columns)
    inside = shutter.on_grid(ds, rows, cols, bin_factor_for(rows, cols))
    shown = fields.get(ref_slot, np.ones(shape, bool))
    if inside is not None:
        shown = shown & (resample(inside.astype(np.float32), src_mm, shape, dst_mm)[0] > 0.999)
    first = next(log_frames(path, ds, 1, header_end=header_end))
    film, seen = resample(first, src_mm, shape, dst_mm)
    flip = stored_inverted(film, ref, seen & shown, stated=not polarity_open(ds))
    k = -1
    frames = log_frames(path, ds, len(slots), inverted=flip, header_end=header_end)
    for k, y in enumerate(frames):
        film, seen = resample(y, src_mm, shape, dst_mm)
        seen &= shown
        out[slots[k]] = np.where(seen, match_to(film, ref, seen), ref)
        if not seen.all():
            fields[slots[k]] = seen
    return k, flip


SAME_PIXEL_SHARE = 0.01
"""Files of the run's matrix whose pixel size at the patient differs by more than this
share (another field of view on the same matrix) are resampled like films."""


def _run_file(images: list[Dataset], shape: tuple[int, int]) -> int:
    """Index of the run's file: of the run's matrix, the one holding the most frames."""
    on = [fi for fi, ds in enumerate(images) if (int(ds.Rows), int(ds.Columns)) == shape]
    return max(on, key=lambda fi: int(images[fi].get("NumberOfFrames", 1) or 1))


def grid_mm(images: list[Dataset], shape: tuple[int, int]) -> list[float]:
    """Each file's pixel size at the patient (mm); a file without one is taken to
    span the same field as the run."""
    ref_mm, ref_src = pixel_mm(images[_run_file(images, shape)])
    if ref_src == "assumed":
        ref_mm = 400.0 / max(shape)
    out = []
    for ds in images:
        mm, src = pixel_mm(ds)
        size = max(int(ds.Rows), int(ds.Columns))
        out.append(mm if src != "assumed" else ref_mm * max(shape) / size)
    return out


def on_run_grid(images: list[Dataset], shape: tuple[int, int], mm: list[float]) -> list[bool]:
    """Files read as they are: the run's matrix and pixel size. A spot film of the same
    matrix but another field of view is not (it would be read at the wrong scale)."""
    ref = mm[_run_file(images, shape)]
    return [
        (int(ds.Rows), int(ds.Columns)) == shape and abs(m / ref - 1.0) <= SAME_PIXEL_SHARE
        for ds, m in zip(images, mm, strict=True)
    ]
