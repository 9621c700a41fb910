"""Stage: the encoding normalised (normalise.py): every frame on the reference's scale.

Display-encoded series carry a look-up table set from each image's own histogram, so
the same anatomy reads at other values on every frame (issue 14: the independent
simulator's processed series were read as "no contrast").
"""

from __future__ import annotations

import numpy as np
import pydicom

from nephro.analysis.normalise import exposed, match_frames, quantile_map
from nephro.analysis.pipeline import Trace, analyze_series
from nephro.analysis.series import load_series
from nephro.analysis.subtract import subtract_scout

PX = 3.0


def _anatomy(h: int = 96, w: int = 96) -> np.ndarray:
    """Log transmission of a body with a spine: broad gradients and dense bone."""
    yy, xx = np.mgrid[0:h, 0:w]
    body = 5.0 - 0.0003 * ((yy - 48) ** 2 + (xx - 48) ** 2)
    spine = 0.8 * (np.abs(xx - 60) < 6) * (0.6 + 0.4 * (yy % 12 < 9))
    return (body - spine).astype(np.float32)


def _blob(h: int = 96, w: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (0.4 * np.exp(-((yy - 40) ** 2 + (xx - 25) ** 2) / 30.0)).astype(np.float32)


def _display(log: np.ndarray, gamma: float, lo: float, hi: float) -> np.ndarray:
    """A device's display chain: gamma on transmission, then a window that maps onto 0-1
    (the log of those values is what the read stage hands on for DISP pixels)."""
    v = np.exp(log - 5.0) ** gamma
    v = np.clip((v - lo) / (hi - lo), 1e-3, 1.0)
    return np.log(v).astype(np.float32)


def test_a_frame_under_another_look_up_table_returns_to_the_reference_scale():
    ref_log = _anatomy()
    ref = _display(ref_log, 0.5, 0.2, 1.1)
    frame = _display(ref_log - _blob(), 0.7, 0.1, 1.3)
    ok = exposed(ref) & exposed(frame)
    diff_before = frame - ref
    diff_after = quantile_map(frame, ref, ok) - ref
    far = _blob() < 1e-3
    # Anatomy cancels: the difference away from the contrast is small after matching...
    assert np.abs(diff_after[far & ok]).max() < 0.25 * np.abs(diff_before[far & ok]).max()
    # ...and the contrast keeps its sign and stands out of what is left.
    assert diff_after[40, 25] < -5 * np.abs(diff_after[far & ok]).mean()


def test_the_map_continues_beyond_the_matched_quantiles_instead_of_clipping():
    ref = np.linspace(0.0, 1.0, 10_000, dtype=np.float32).reshape(100, 100)
    frame = 2.0 * ref + 1.0
    frame[50, 50] = -3.0  # far below every matched quantile (dense contrast)
    out = quantile_map(frame, ref, np.ones_like(ref, bool))
    assert out[50, 50] < -1.5  # (-3 - 1) / 2 = -2 on the reference's scale
    # Held at the end knots when asked (views.py): the lowest matched quantile's value.
    knots = np.linspace(2.0, 98.0, 25)
    held = quantile_map(frame, ref, np.ones_like(ref, bool), knots, extend=False)
    assert held[50, 50] == np.float32(np.percentile(ref, 2.0))
    assert np.allclose(held[60:80], ref[60:80], atol=1e-3)  # within them, as before


def test_blanked_shutters_are_not_matched_and_the_reference_is_kept():
    frame = _anatomy()
    frame[:, :20] = frame.min() - 1.0  # a collimator blade blanked dark
    ok = exposed(frame)
    assert not ok[:, :20].any() and ok[10:-10, 25:-10].mean() > 0.99
    stack = np.stack([frame, frame + 0.3])
    out = match_frames(stack)
    assert np.array_equal(out[0], stack[0])
    assert np.allclose(out[1][ok], stack[0][ok], atol=1e-3)


def test_contrast_is_found_in_a_series_whose_frames_each_have_their_own_table():
    rng = np.random.default_rng(3)
    base, blob = _anatomy(), _blob()
    frames, times = [], np.arange(24, dtype=float)
    for t in range(times.size):
        log = base - (blob if t >= 6 else 0) + rng.normal(0, 0.004, base.shape)
        frames.append(_display(log, rng.uniform(0.45, 0.75), rng.uniform(0.1, 0.3), 1.2))
    stack = np.stack(frames).astype(np.float32)
    sub = subtract_scout(match_frames(stack), times, PX)
    assert sub.onset == 6
    assert sub.signif[-1, 40, 25] and not sub.signif[-1, 80, 80]


def test_only_the_display_encoded_files_are_matched(make_case, tmp_path):
    # A run stored as detected (LIN) with spot films stored display-encoded: the films
    # are put on the run's scale; the run's own frames are left as they are (issue 14:
    # every frame of such runs was remapped, changing the contrast of the run).
    folder, _ = make_case("patent", 1, layout="mixed")
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        if path.name.startswith("SPOT"):
            ds.PixelIntensityRelationship = "DISP"
        ds.save_as(tmp_path / path.name)
    plain, mixed = (
        load_series(sorted(folder.glob("*.dcm"))),
        load_series(sorted(tmp_path.glob("*.dcm"))),
    )
    n_run = int(pydicom.dcmread(folder / "RUN_001.dcm", stop_before_pixels=True).NumberOfFrames)
    assert "display_encoded_pixels" in mixed.quality
    assert sorted(mixed.info["_display_frames"]) == list(range(n_run, plain.log_frames.shape[0]))
    traces = Trace(), Trace()
    analyze_series(plain, trace=traces[0])
    analyze_series(mixed, trace=traces[1])
    s_plain, s_mixed = (t.subtraction.s for t in traces)
    assert np.array_equal(s_plain[:n_run], s_mixed[:n_run])
    assert not np.array_equal(s_plain[n_run:], s_mixed[n_run:])
