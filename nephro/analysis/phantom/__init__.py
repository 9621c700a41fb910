"""Synthetic nephrostogram: anatomy, contrast transport and x-ray physics.

No public nephrostogram data exists, so the analysis is developed and validated on
this phantom, whose ground truth is known exactly. The model is deliberately simple
but physical where it matters for the analysis:

* **Anatomy** as 2.5D thickness maps (mm along the beam): water body, bone spine and
  pelvis, moving bowel gas, kidney with pelvis, calyces and infundibula, a ureter
  along a spline into the bladder, and a pigtail nephrostomy tube.
* **Transport** with conserved iodine mass: injection through the tube, first-order
  outflow of the collecting system through the pelvi-ureteric junction released as
  peristaltic boluses, boluses travelling down the ureter into the bladder, a
  stagnant dilated column above a block, extravasation into a growing random-field
  blob, and drainage out of an open tube.
* **Physics** at one effective energy (45-55 keV, monoenergetic approximation):
  Beer-Lambert attenuation, scatter as a low-passed primary scaled to a
  scatter-to-primary ratio, detector blur and lag, quantum noise (Gaussian
  approximation of Poisson) and electronic noise, automatic brightness control
  drift, storage at 8-16 bits, linear or logarithmic pixel intensity.
* **Motion and timing**: breathing moves the kidney and upper ureter during the
  fluoroscopic run, spot films are breath-holds at random phase, and the patient may
  shift between spot films; the run is followed by delayed spots around 5, 10 and
  20 min.

Everything is drawn from seeded generators; ``simulate(scenario, seed)`` is
deterministic. Attenuation coefficients (cm^2/g) are NIST XCOM values as tabulated
by xraydb 4.5.8 (analysis.md section 3).

Modules: ``params`` (scenarios, :class:`PhantomParams`, drawing them from a seed),
``anatomy``, ``transport`` (and the ground truth it defines, by the analysis's own
verdict rule), ``imaging`` (timing, motion, physics: :func:`simulate`).
"""

from nephro.analysis.phantom.imaging import frame_schedule, simulate
from nephro.analysis.phantom.params import (
    OBSTRUCTION_LEVEL,
    SCENARIOS,
    PhantomParams,
    SimulatedSeries,
    alone,
    sample_params,
    seeded_rng,
    with_params,
)
from nephro.analysis.phantom.transport import ground_truth

__all__ = [
    "OBSTRUCTION_LEVEL",
    "SCENARIOS",
    "PhantomParams",
    "SimulatedSeries",
    "alone",
    "frame_schedule",
    "ground_truth",
    "sample_params",
    "seeded_rng",
    "simulate",
    "with_params",
]
