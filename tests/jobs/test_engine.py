"""Procrastinate with real `nephro worker` processes on PostgreSQL.

Two workers share one queue: every job runs once, jobs sharing a lock never overlap, a
periodic job runs once per period, and a rolled-back enqueue never reaches them.
"""

import os
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
from django.db import connection, transaction

from nephro.jobs import queue
from tests.jobs.conftest import procrastinate

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not procrastinate(), reason="the Procrastinate engine needs PostgreSQL"),
]
ROOT = Path(__file__).resolve().parents[2]
WORKER = (
    "import django; django.setup(); import tests.jobs.handlers; "
    "from django.core.management import call_command; "
    "call_command('worker', '--poll', '0.2', *__import__('sys').argv[1:])"
)


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture
def workers(tmp_path, monkeypatch):
    """Start real worker processes on the test database; stop them after the test."""
    monkeypatch.setenv("NEPHRO_TEST_JOBS_OUT", str(tmp_path))
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "NEPHRO_TEST_JOBS_OUT": str(tmp_path),
    }

    def start(count: int, *args: str) -> None:
        for _ in range(count):
            proc = subprocess.Popen(
                [sys.executable, "-c", WORKER, *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert "worker started (procrastinate)" in proc.stdout.readline()
            started.append(proc)

    yield start
    for proc in started:
        proc.terminate()
    for proc in started:
        proc.wait(timeout=30)


def _files(tmp_path: Path, prefix: str) -> list[list[str]]:
    return [p.name.split("-")[1:] for p in tmp_path.iterdir() if p.name.startswith(prefix)]


def _wait_for(tmp_path: Path, prefix: str, count: int, timeout: float = 60) -> list[list[str]]:
    deadline = time.monotonic() + timeout
    while len(_files(tmp_path, prefix)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return _files(tmp_path, prefix)


def test_two_workers_run_each_job_once_and_never_a_rolled_back_one(workers, tmp_path):
    workers(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue("test.record", n=99)
        raise RuntimeError("rolled back")
    for n in range(12):
        queue.enqueue("test.record", n=n, hold_s=0.3)
    runs = _wait_for(tmp_path, "record-", 12)
    time.sleep(1)  # a second run, or the rolled-back job, would show up by now
    runs = _files(tmp_path, "record-")
    assert sorted(int(n) for n, *_ in runs) == list(range(12))
    assert len({pid for _, pid, *_ in runs}) == 2


def test_jobs_sharing_a_lock_never_run_at_once(workers, tmp_path):
    workers(2)
    for n in range(4):
        queue.enqueue("test.record", n=n, hold_s=0.5, lock="exam-1")
    runs = _wait_for(tmp_path, "record-", 4)
    spans = sorted((float(start), float(end)) for _, _, start, end in runs)
    assert len(spans) == 4
    assert all(end <= next_start for (_, end), (next_start, _) in pairwise(spans))


def test_a_periodic_job_runs_once_per_period_whatever_the_number_of_workers(workers, tmp_path):
    if time.time() % 60 > 45:  # keep the test inside one minute
        time.sleep(61 - time.time() % 60)
    workers(3)
    assert len(_wait_for(tmp_path, "minute-", 1)) == 1
    time.sleep(3)
    assert len(_files(tmp_path, "minute-")) == 1
