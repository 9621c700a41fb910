"""bench/scale.py at a small size, so the benchmark cannot rot (PostgreSQL only).

The figures themselves are the benchmark's business; here it must fill, time every hot
path, explain every plan and verify the chain without an error.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="bench/scale.py fills PostgreSQL (COPY, generate_series)",
)


def test_the_scale_benchmark_runs_small_end_to_end():
    s = connection.settings_dict
    name = f"scale_{os.getpid()}"
    url = f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{name}"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--exams", "2000", "--runs", "2"]
        + ["--database-url", url, "--drop"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"Exam +2,000 rows", out) and re.search(r"AuditEvent +20,000 rows", out)
    for label in ("worklist page (nurse)", "MWL C-FIND", "tube due list", "audit by patient"):
        assert label in out, label
    assert len(re.findall(r"(?:no seq scan|seq scan: \w+)  (?:ok|MISSED)", out)) == 17  # explained
    assert "audit trail intact" in out
