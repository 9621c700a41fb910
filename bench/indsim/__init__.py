"""bench.indsim: an independent, clean-room x-ray simulator of nephrostograms.

Written without reading Nephro's drainage analysis; see README.md.  Usage::

    from bench.indsim import SCENARIOS, simulate
    truth = simulate("patent", seed=1, out_dir=Path("/tmp/case"))
"""

from __future__ import annotations

from .engine import simulate
from .scenarios import SCENARIOS

__all__ = ["SCENARIOS", "simulate"]
