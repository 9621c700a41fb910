"""bench/load.py for a few seconds with three users, so the benchmark cannot rot.

PostgreSQL only (it samples Procrastinate's queue for the job lag). The figures are the
benchmark's business; here every page must answer and a series must be sent, and
every image be stored (not refused by the listener).
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
    reason="bench/load.py serves from PostgreSQL and samples Procrastinate's queue",
)


def test_the_load_benchmark_runs_briefly_end_to_end():
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/load_{os.getpid()}"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--users", "3", "--seconds", "25"]
        + ["--think", "0.2", "--exams", "500", "--database-url", url, "--drop"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"single user: \d+ pages", out), out
    assert re.search(r"3 users for 25 s .*, [1-9]\d* series sent: [1-9]\d* pages", out), out
    assert not re.search(r"HTTP Error|URLError", out), out  # every page answered
    assert "job lag: max" in out and "targets (0 errors" in out
    assert "storescu exit" not in out and "images the listener refused: 0 " in out, out
