"""Display polarity read from the images when the tags leave it open.

Whether higher stored values mean more x-rays is stated by Pixel Intensity Relationship
Sign (0028,1041). Without it, the analysis falls back on Photometric Interpretation, which
only says how to display the values: a device that stores the run "iodine bright" under
MONOCHROME2, or MONOCHROME1 against PS3.3 C.8.7.1, reads upside down, and no contrast is
ever found (issue 14: runs of the independent simulator). Contrast only ever adds
attenuation, and a frame counts as showing contrast only when its gains of attenuation
clearly outweigh its losses and persist (:func:`nephro.analysis.subtract.contrast_frames`): so a
run whose polarity the tags leave open is read the way round in which more of it shows
contrast. (The balance of all large changes of the run, panning and motion included, was
tried first and told the two apart no better than chance on the independent simulator's
development seeds.) Only where neither reading shows a frame of contrast (a faint or
moving run) does that balance decide, instead of the tags' guess: on those seeds, 12 of
67 open runs, not blank, were such ties; the balance read 9 of them the right way
round, the tags' guess 5 (``bench/analysis_stages.py``, issue 14, ninth session).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, above, below
from nephro.analysis.pixels import Encoding
from nephro.analysis.result import NoContrast
from nephro.analysis.subtract import (
    sample_pixels,
    subtract_frames,
    subtract_scout,
    valid_pixels,
)

FloatArray = NDArray[np.float32]


def polarity_open(ds: Dataset) -> bool:
    """The tags leave the polarity open: no Pixel Intensity Relationship Sign, so it is
    only inferred from Photometric Interpretation."""
    return ds.get("PixelIntensityRelationshipSign") is None


def reverse(log: FloatArray, enc: Encoding) -> FloatArray:
    """``log`` (as :func:`nephro.analysis.pixels.log_frames` read it) in the opposite
    polarity: what reading with ``inverted=True`` gives, without decoding again."""
    maxval = np.float32(2**enc.bits - 1)
    if enc.relationship == "LOG":
        return (maxval - log).astype(np.float32)
    out: FloatArray = np.log(np.maximum(maxval - np.exp(log), np.float32(0.5))).astype(np.float32)
    return out


def turned_is_right(
    straight: FloatArray, turned: FloatArray, times: NDArray[np.float64], px: float
) -> bool:
    """True when the run shows more contrast read the other way round (``turned``).

    When neither reading shows a frame of contrast, the run is read the way round in
    which more pixels gained attenuation than lost it (:func:`change_balance`; a run
    with no contrast at all stays as the tags say unless its changes lean one way).
    """
    shown_turned = _contrast_shown(turned, times, px)
    shown_straight = _contrast_shown(straight, times, px)
    if shown_turned == shown_straight == 0:
        return change_balance(straight) < 0
    return shown_turned > shown_straight


def _contrast_shown(log: FloatArray, times: NDArray[np.float64], px: float) -> int:
    """Significant contrast pixels summed over the frames that show contrast."""
    try:
        sub = subtract_scout(log, times, px)
    except NoContrast:
        return 0
    return int(sub.signif[sub.contrast_frames].sum())


def change_balance(log: F32) -> int:
    """Pixels that gained attenuation significantly since the first frame of ``log``,
    minus those that lost it, summed over its frames (3x3 means, each frame's noise).

    Contrast only gains attenuation; motion, panning and gas move both ways.
    """
    valid = valid_pixels(log[0])
    p = subtract_frames(log, log[0], valid, sample_pixels(valid))
    high = th.PIXEL_SIGMA_HYSTERESIS_HIGH * p.sig_m
    return int(np.count_nonzero(above(p.sm, high))) - int(np.count_nonzero(below(p.sm, -high)))
