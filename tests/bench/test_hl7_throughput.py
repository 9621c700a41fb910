"""bench/hl7_throughput.py runs end to end with a few messages (figures are not asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_hl7_benchmark_runs_and_every_message_is_accepted(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/hl7_throughput.py"),
            "--messages",
            "6",
            "--connections",
            "1,2",
            "--json",
            "--database-url",
            f"sqlite:///{tmp_path}/b.sqlite3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["connections"] for r in summary["runs"]] == [1, 2]
    assert all(r["messages"] == 6 and r["per_second"] > 0 for r in summary["runs"])
