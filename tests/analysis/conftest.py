"""Shared helpers: small synthetic cases, generated once per test session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nephro.analysis import GroundTruth, generate_case

# Small and fast: 128 x 128 px, at most 40 run frames plus the delayed spot films.
SMALL: dict[str, Any] = {"size": 128, "max_run_frames": 40}


@pytest.fixture(scope="session")
def small() -> dict[str, Any]:
    """The phantom options of :func:`make_case`'s cases (to simulate one in memory)."""
    return dict(SMALL)


@pytest.fixture(scope="session")
def make_case(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., tuple[Path, GroundTruth]]:
    """Return ``make(scenario, seed, **overrides) -> (folder, truth)``, cached per session."""
    cache: dict[tuple[Any, ...], tuple[Path, GroundTruth]] = {}

    def make(scenario: str, seed: int, **overrides: Any) -> tuple[Path, GroundTruth]:
        opts = {**SMALL, "syntax": "explicit", "layout": "multiframe", **overrides}
        key = (scenario, seed, tuple(sorted((k, repr(v)) for k, v in opts.items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{scenario}-{seed}")
            cache[key] = (folder, generate_case(scenario, seed, folder, **opts))
        return cache[key]

    return make
