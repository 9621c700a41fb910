"""bench/compare.py: what moved between two runs of an accuracy bench."""

import json

from bench.compare import changes, main, report


def _indsim(seed, verdict, rule, leak=False, accepted=("obstructed",), truth_leak=False, **kw):
    return {
        "scenario": "obstructed_upj",
        "seed": seed,
        "accepted": list(accepted),
        "leak": truth_leak,
        "undecidable": kw.get("undecidable", False),
        "pred": {"verdict": verdict, "rule": rule, "leak": leak},
    }


def _phantom(seed, verdict, rule, leak=False, truth="drains", truth_leak=False):
    return {
        "scenario": "patent",
        "seed": seed,
        "gt": {"verdict": truth, "leak": truth_leak},
        "pred": {"verdict": verdict, "rule": rule, "leak": leak},
    }


def test_each_moved_case_is_marked_by_whether_it_came_right_or_went_wrong():
    before = [
        _indsim(1, "indeterminate", "no_contrast"),
        _indsim(2, "obstructed", "retained"),
        _indsim(3, "indeterminate", "other_side"),
        _indsim(4, "obstructed", "retained"),
        _indsim(5, "drains", "prompt_drainage", truth_leak=True),
    ]
    after = [
        _indsim(1, "obstructed", "retained"),  # came right
        _indsim(2, "delayed", "not_retained"),  # went wrong
        _indsim(3, "indeterminate", "no_contrast"),  # as wrong as before
        _indsim(4, "obstructed", "retained"),  # did not move
        _indsim(5, "drains", "prompt_drainage", leak=True, truth_leak=True),  # leak found
    ]
    moved = {case: mark for case, mark, _, _ in changes(before, after)}
    assert moved == {
        "obstructed_upj-1": "+",
        "obstructed_upj-2": "-",
        "obstructed_upj-3": "=",
        "obstructed_upj-5": "+",
    }
    last = report(before, after).splitlines()[-1]
    assert last == "verdicts right 2 -> 2 of 5; leak calls right 4 -> 5 of 5"


def test_the_phantoms_rows_are_judged_by_their_truth_and_undecidable_leaks_not_scored():
    before = [_phantom(7, "drains", "prompt_drainage"), _phantom(8, "obstructed", "retained")]
    after = [
        _phantom(7, "indeterminate", "contrast_lost"),
        _phantom(8, "drains", "prompt_drainage"),
    ]
    assert [m for _, m, _, _ in changes(before, after)] == ["-", "+"]
    undecidable = [_indsim(9, "indeterminate", "no_contrast", leak=True, undecidable=True)]
    assert report(undecidable, undecidable).endswith("leak calls right 0 -> 0 of 0")


def test_it_reads_two_json_files(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps([_phantom(1, "obstructed", "retained")]))
    b.write_text(json.dumps([_phantom(1, "drains", "prompt_drainage")]))
    assert main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "patent-1" in out and "+ obstructed/retained -> drains/prompt_drainage" in out
    assert main([str(a)]) == 2
