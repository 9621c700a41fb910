"""Stage: the leak search (leak.py) in a blocked system, on a synthetic kidney-fixed scene."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.leak import LeakSearch
from nephro.analysis.register import Tracks

PX = 2.0
SIGMA = 0.01


def _scene(
    leak: bool, blob_at: tuple[int, int] = (30, 42)
) -> tuple[LeakSearch, np.ndarray, np.ndarray]:
    """A kidney full at the template and on two late films, a stagnant column hanging
    from it down the ureter, and (with ``leak``) a blob that grew beside the column
    (15 x 15 px from ``blob_at``)."""
    rng = np.random.default_rng(3)
    h = w = 80
    template = rng.normal(0.0, SIGMA, (h, w)).astype(np.float32)
    kidney = np.zeros((h, w), bool)
    kidney[10:25, 30:50] = True
    template[kidney] += 1.0
    ureter = np.zeros((h, w), bool)
    ureter[25:70, 39:42] = True
    late = np.stack([template.copy() for _ in range(3)])
    late[1:] += rng.normal(0.0, SIGMA, (2, h, w)).astype(np.float32)
    late[1:, ureter] += 0.5  # the column: outside the kidney, grown since the template
    blob = np.zeros((h, w), bool)
    y, x = blob_at
    blob[y : y + 15, x : x + 15] = True  # 900 mm^2; by default touching the column's band
    if leak:
        late[1:, blob] += 0.3
    zone = np.zeros((h, w), bool)
    zone[5:75, 10:70] = True
    zone &= ~kidney
    n = late.shape[0]
    search = LeakSearch(
        sm=late,
        sig_m=np.full(n, SIGMA),
        tracks=Tracks(np.zeros(n, np.int64), np.zeros(n, np.int64), np.ones(n, bool)),
        late_frames=[1, 2],
        template=template,
        template_sigma=SIGMA,
        zone=zone,
        core=kidney,
        source=ndimage.distance_transform_edt(~kidney) * PX <= th.LEAK_MAX_SOURCE_MM,
        others=np.zeros((h, w), bool),
        px=PX,
    )
    return search, ureter, blob


def test_a_leak_beside_a_stagnant_column_is_found_and_the_column_is_not():
    search, ureter, blob = _scene(leak=True)
    found = search.regions(ureter, blocked=True)
    # The leak, less the band cut around the column (fails before: a region touching
    # the ureter was dropped whole).
    assert found[blob].mean() >= 0.8
    assert float(found.sum()) * PX * PX >= th.LEAK_MIN_AREA_MM2
    assert not (found & ureter).any()
    # Without the leak only the column grew, and it is not a leak.
    search, ureter, _ = _scene(leak=False)
    assert not search.regions(ureter, blocked=True).any()


def test_contrast_grown_far_from_the_collecting_system_is_not_its_leak():
    # The same blob about 38 mm from the kidney (within the search's reach, beyond where a
    # leak from it can start): the diaphragm, gas or the field's edge, not extravasation.
    search, ureter, blob = _scene(leak=True, blob_at=(43, 52))
    assert search.zone[blob].all()
    assert not search.regions(ureter, blocked=True).any()
    # About 23 mm from it, the same blob is a leak.
    search, ureter, blob = _scene(leak=True, blob_at=(35, 52))
    assert search.regions(ureter, blocked=True)[blob].mean() >= 0.8
