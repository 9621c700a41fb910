"""Each scenario gets the expected verdict on a few development seeds.

The phantom draws every parameter at random, so a few seeds per scenario can be
genuinely hard; the bench (bench/analysis_accuracy.py) measures the real rates on
held-out seeds. Here we require a majority of three seeds per scenario to be right.
"""

from __future__ import annotations

import pytest
from scipy import ndimage

from nephro.analysis import analyze_paths, generate_case
from nephro.analysis import pipeline as pipeline_module
from nephro.analysis import thresholds as th
from nephro.analysis import verdict as vd
from nephro.analysis.phantom import simulate
from nephro.analysis.views import PelvicViews

SEEDS = (31, 32, 33)


@pytest.mark.parametrize(
    "scenario",
    [
        "patent",
        "delayed",
        "obstructed_upj",
        "obstructed_ureter",
        "obstructed_uvj",
        "leak",
    ],
)
def test_it_gets_the_verdict_of_most_cases_right(make_case, scenario):
    right = 0
    for seed in SEEDS:
        folder, truth = make_case(scenario, seed)
        result = analyze_paths([folder])
        right += result.verdict == truth.verdict
    assert right >= 2


def test_it_finds_most_leaks(make_case):
    found = sum(analyze_paths([make_case("leak", s)[0]]).leak for s in SEEDS)
    assert found >= 2


def test_it_does_not_call_leaks_in_clean_cases(make_case):
    false = sum(analyze_paths([make_case("patent", s)[0]]).leak for s in SEEDS)
    assert false == 0


@pytest.mark.parametrize(
    "scenario,level",
    [("obstructed_upj", "upj"), ("obstructed_uvj", "uvj")],
)
def test_it_names_the_obstruction_level(make_case, scenario, level):
    levels = [analyze_paths([make_case(scenario, s)[0]]).obstruction_level for s in SEEDS]
    assert levels.count(level) >= 2


def test_it_does_not_take_the_end_of_a_blocked_column_for_the_bladder(make_case):
    # Above a block at the uretero-vesical junction the dilated ureter ends where the
    # bladder lies; the box-smoothed detector used to read it as bladder contrast on
    # these seeds (arrival at 18-95 s, verdict drains or delayed).
    for seed in (0, 2, 4):
        result = analyze_paths([make_case("obstructed_uvj", seed)[0]])
        assert result.bladder_arrival_s is None
        assert result.verdict == "obstructed"


@pytest.mark.parametrize("seed", [128, 137])
def test_gas_that_moved_below_a_blocked_kidney_is_not_its_bladder(tmp_path, seed):
    # Bench-size development cases (issue 14): a round blob of 7.7-8.3 cm^2 (gas that
    # moved, or a film's registration residue) was taken for the bladder on the last
    # film, and its "arrival" on a spot film at about 5 and 6 min made these blocked
    # kidneys read delayed.
    truth = generate_case("obstructed_upj", seed, tmp_path, size=256)
    result = analyze_paths([tmp_path])
    assert truth.bladder_arrival_s is None
    assert result.bladder_arrival_s is None
    assert result.verdict == "obstructed"


@pytest.mark.parametrize("scenario,seed", [("patent", 1008)])
def test_it_finds_a_faint_bladder_that_keeps_filling(tmp_path, scenario, seed):
    # A bench-size development case whose faint bladder stood out of the busy lower field
    # by less than the outlier test asks; it holds contrast on every delayed film and
    # gains more, so it is a bladder (it was called obstructed without that rule). Seed
    # 337 (delayed) was a second case until round 8: outlined over the gap below the
    # sacrum, its bladder is still taken by this rule, but no arrival is accepted (the
    # region's robust sum under-reads it), where the smaller outline had dated one 525 s
    # before the truth.
    truth = generate_case(scenario, seed, tmp_path, size=256)
    result = analyze_paths([tmp_path])
    assert truth.bladder_arrival_s is not None
    assert result.bladder_arrival_s is not None
    assert result.verdict == truth.verdict


@pytest.mark.parametrize("seed", [951, 1217])
def test_a_rejected_bladder_does_not_hide_contrast_lost_through_an_open_tube(tmp_path, seed):
    # Bench-size development cases: the tube drained the kidney, and a region below it
    # was taken for the bladder and then rejected (it lit up on the delayed films only).
    # Its curve had still been counted as where the contrast went, so the loss went
    # unseen and the empty kidney was called obstructed by mass balance.
    generate_case("tube_open", seed, tmp_path, size=256)
    result = analyze_paths([tmp_path])
    assert result.tube_open
    assert result.verdict == "indeterminate"
    assert any("left the field" in r for r in result.reasons)


@pytest.mark.parametrize("seed", [34, 70])
def test_an_open_tube_that_took_most_of_the_contrast_is_not_called_draining(tmp_path, seed):
    # Bench-size development cases: the open tube took about three quarters of what
    # left the kidney and the bladder the rest. Seed 34's balance read 39-46 % of it;
    # over the old limit (35 %), the empty kidney and the prompt arrival were read
    # "drains"; the truth is indeterminate (contrast lost through the tube). Seed 70's
    # read 52 % (its bladder outlined whole once BLADDER_MIN_AREA_MM2 refused a 4 cm^2
    # piece), "drains" at 0.36, while its scatter fraction was fitted at 0 (a loss of
    # contrast pulls the fit there); read at SCATTER_FRACTION_ASSUMED, 44 % (issue 14).
    truth = generate_case("tube_open", seed, tmp_path, size=256)
    result = analyze_paths([tmp_path], side=truth.data["side"])
    assert truth.verdict == "indeterminate"
    assert result.tube_open
    assert result.verdict == "indeterminate"


def test_a_bladder_seen_filling_on_views_elsewhere_is_where_the_contrast_went(
    tmp_path, monkeypatch
):
    # The run's field cannot count a bladder that views at another table position
    # showed filling: its balance is not judged then. Our phantom makes no such views,
    # so what the views stage (tested on its own in test_stage_views) reports is given
    # here, on an open tube whose balance otherwise says the contrast left the field.
    truth = generate_case("tube_open", 951, tmp_path, size=256)
    lost = analyze_paths([tmp_path], side=truth.data["side"])
    assert lost.tube_open and lost.bladder_arrival_s is None

    monkeypatch.setattr(
        pipeline_module, "judge_views", lambda *args: PelvicViews(filled_s=240.0, empty_s=None)
    )
    seen = analyze_paths([tmp_path], side=truth.data["side"])
    assert seen.bladder_arrival_s == 240.0
    assert not seen.tube_open
    assert seen.rule != "contrast_lost"


@pytest.mark.parametrize("seed", [890])
def test_a_bladder_first_seen_on_the_delayed_films_counts_when_it_fills(tmp_path, seed):
    # A bench-size development case of slow drainage: the bladder, too faint to see
    # during the run, shows on the delayed films and grows on each, but did not stand
    # out of the busier spot films by the stricter outlier limit, so arrival was
    # dropped and the kidney called obstructed. (Arrival is then dated at the first
    # film that shows it, later than the truth; it must not be earlier.) Seed 1037 was
    # a second case until round 8; its bladder is now seen during the run (below).
    truth = generate_case("delayed", seed, tmp_path, size=256)
    result = analyze_paths([tmp_path])
    assert result.verdict != "obstructed"
    assert result.bladder_arrival_s is not None
    assert result.bladder_arrival_s >= truth.bladder_arrival_s - 5.0


@pytest.mark.parametrize("scenario,seed", [("patent", 448), ("leak", 726)])
def test_a_bladder_over_the_gaps_between_the_pelvic_bones_is_found(tmp_path, scenario, seed):
    # The scout's lucent gap below the sacrum is masked as possible gas; it cut these
    # bladders into a blob too narrow for the width test, and the drained kidneys were
    # called obstructed by mass balance.
    generate_case(scenario, seed, tmp_path, size=256)
    result = analyze_paths([tmp_path])
    assert result.bladder_arrival_s is not None
    assert result.verdict == "drains"


@pytest.mark.parametrize("scenario,seed", [("patent", 1519), ("leak", 1699), ("delayed", 1037)])
def test_a_bladder_lying_in_the_gap_below_the_sacrum_is_seen_from_the_run(tmp_path, scenario, seed):
    # Bench-size development cases: contrast reached the bladder within the first
    # minute, but the bladder lies over the gap between the sacrum and the pubic bones,
    # which the scout's lucency mask had taken as possible gas; the detector did not see
    # it (1519, 1699: the drained kidneys were called obstructed) or saw it only on the
    # delayed films (1037: arrival 220 s late). The gap lies at the body's soft-tissue
    # level, gas above it.
    truth = generate_case(scenario, seed, tmp_path, size=256)
    result = analyze_paths([tmp_path])
    assert result.bladder_arrival_s is not None
    assert result.bladder_arrival_s < 120.0
    assert result.verdict == truth.verdict


@pytest.mark.parametrize("seed", [93, 541])
def test_gas_over_bone_is_still_kept_out_of_the_bladder_search(tmp_path, seed):
    # Blocked kidneys whose bowel gas lay over the pelvic bones on the scout and moved
    # away: where gas and bone cancel, the pocket sits at the soft-tissue level too.
    # Seed 93's pocket is kept out by its clearly lucent core (the rim rule), seed 541's
    # by the bone around it; without either, its residue was taken for a bladder.
    generate_case("obstructed_upj", seed, tmp_path, size=256)
    result = analyze_paths([tmp_path])
    assert result.bladder_arrival_s is None
    assert result.verdict == "obstructed"


def test_it_measures_arrival_close_to_the_truth(make_case):
    # Small 128 px cases are noisier than the bench's 256 px ones; dating the step in
    # bladder content (not the first frame over 4 sigma) brought these seeds' errors
    # from 11-14 s to 5-7 s.
    errors = []
    for seed in SEEDS:
        folder, truth = make_case("patent", seed)
        result = analyze_paths([folder])
        if result.bladder_arrival_s is not None and truth.bladder_arrival_s is not None:
            errors.append(abs(result.bladder_arrival_s - truth.bladder_arrival_s))
    assert errors and sorted(errors)[len(errors) // 2] < 10.0


@pytest.mark.parametrize(
    "scenario,part,margin,share", [("leak", "leak", 2, 0.5), ("patent", "bladder", 0, 0.8)]
)
def test_the_outline_it_draws_lies_where_the_phantom_put_it(
    make_case, small, scenario, part, margin, share
):
    # The phantom knows where the leaked contrast and the bladder lie on the last film;
    # the outline the analysis draws must fall on them, not on the collecting system,
    # the end of a column or bowel gas beside.
    found = 0
    for seed in SEEDS:
        folder, _ = make_case(scenario, seed)
        result = analyze_paths([folder])
        truth = simulate(scenario, seed, **small).masks[part]
        assert result.evidence is not None
        drawn = getattr(result.evidence, part)
        assert drawn.shape == truth.shape
        called = result.leak if part == "leak" else result.bladder_arrival_s is not None
        assert drawn.any() == called
        if called:
            near = ndimage.binary_dilation(truth, iterations=margin) if margin else truth
            found += (drawn & near).sum() >= share * drawn.sum()
    assert found >= 2


def test_a_pool_centred_beyond_the_kidneys_edge_is_not_called_an_obstruction(tmp_path):
    # Its densest end lies within a kidney's reach of the spine, but most of it beyond:
    # read "obstructed" while only the densest point was measured.
    truth = generate_case("tube_displaced", 26, tmp_path, size=256)
    result = analyze_paths([tmp_path], side=truth.data["side"])
    assert result.kidney_from_spine_mm <= th.KIDNEY_MAX_FROM_SPINE_MM
    assert (result.verdict, result.rule) == ("indeterminate", vd.OUTSIDE_KIDNEY)
    assert result.verdict == truth.verdict
    assert any("its centre lies" in r and "check the tube's position" in r for r in result.reasons)


@pytest.mark.parametrize("seed", [8, 17])
def test_contrast_pooled_beyond_the_kidneys_edge_is_not_called_an_obstruction(tmp_path, seed):
    # The tube slipped back into its tract: the contrast pools there and never leaves,
    # which read "obstructed at the pelvi-ureteric junction" before.
    truth = generate_case("tube_displaced", seed, tmp_path, size=256)
    result = analyze_paths([tmp_path], side=truth.data["side"])
    assert result.kidney_from_spine_mm > th.KIDNEY_MAX_FROM_SPINE_MM
    assert (result.verdict, result.rule) == ("indeterminate", vd.OUTSIDE_KIDNEY)
    assert result.verdict == truth.verdict
    assert any("check the tube's position" in r for r in result.reasons)
