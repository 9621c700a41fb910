"""bench/fhir_search.py runs end to end on a small database (figures are not asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_fhir_search_benchmark_runs_on_a_small_database(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/fhir_search.py"),
            "--exams",
            "120",
            "--runs",
            "2",
            "--json",
            "--database-url",
            f"sqlite:///{tmp_path}/bench.sqlite3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["exams"] == 120
    assert all(f["p95_ms"] > 0 for f in summary["searches"].values())
