"""``nephro analyze`` and ``nephro phantom`` as the console sees them."""

from __future__ import annotations

import json

import pytest

from nephro.analysis.cli import analyze_main, phantom_main

REQUIRED = {
    "verdict",
    "confidence",
    "reasons",
    "leak",
    "leak_onset_s",
    "bladder_arrival_s",
    "collecting_system_t_half_s",
    "residual_fraction_last",
    "obstruction_level",
    "frames",
    "span_s",
    "quality",
}


def test_it_prints_exactly_one_json_object(make_case, capsys):
    folder, _ = make_case("patent", 4)
    assert analyze_main([str(folder), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # fails on extra text before or after the object
    assert isinstance(data, dict) and set(data) >= REQUIRED
    assert out.strip().count("\n") == 0
    assert data["verdict"] in ("drains", "delayed", "obstructed", "indeterminate")
    assert 0.0 <= data["confidence"] <= 1.0
    assert all(isinstance(r, str) and r for r in data["reasons"])


def test_it_writes_the_evidence_png(make_case, tmp_path, capsys):
    folder, truth = make_case("obstructed_ureter", 3)
    png = tmp_path / "evidence.png"
    side = truth.data["side"]
    assert analyze_main([str(folder), "--png", str(png), "--side", side]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert out.startswith("Verdict:") and f"{side} (given)" in out


def test_it_writes_a_phantom_from_the_command_line(tmp_path, capsys):
    code = phantom_main(
        [
            "--scenario",
            "leak",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
            "--size",
            "96",
            "--frames",
            "8",
            "--layout",
            "single",
            "--syntax",
            "rle",
            "--photometric",
            "MONOCHROME1",
            "--accession",
            "A1",
        ]
    )
    assert code == 0
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert truth["transfer_syntax"] == "rle" and truth["leak"] in (True, False)
    assert len(list(tmp_path.glob("*.dcm"))) == truth["frames"]
    assert "wrote" in capsys.readouterr().out


def test_it_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        analyze_main(["x", "--side", "middle"])
    with pytest.raises(SystemExit):
        phantom_main(["--scenario", "nonsense", "--seed", "1", "--out", "x"])
