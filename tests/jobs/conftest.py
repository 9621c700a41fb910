"""Test handlers registered for one test only, and engine-neutral helpers."""

import pytest
from django.conf import settings
from django.db import connection

from nephro.jobs import queue
from nephro.jobs.models import Job

calls: list[dict] = []


def _ok(**payload):
    calls.append(payload)


def _flaky(**payload):
    raise RuntimeError("disk busy")


def _bad(**payload):
    raise queue.PermanentError("cannot ever work")


@pytest.fixture
def handlers(monkeypatch):
    """test.ok, test.flaky (2 runs) and test.bad, registered for this test only."""
    monkeypatch.setattr(queue, "_SPECS", dict(queue._SPECS))
    calls.clear()
    queue.job("test.ok")(_ok)
    queue.job("test.flaky", max_attempts=2)(_flaky)
    queue.job("test.bad")(_bad)
    return calls


def procrastinate() -> bool:
    return settings.NEPHRO_JOBS_BACKEND == "procrastinate"


def make_due(job_id: int) -> None:
    """Bring a job waiting for its retry forward to now (the database's clock decides)."""
    if procrastinate():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = %s", [job_id]
            )
    else:
        from django.utils import timezone

        Job.objects.filter(pk=job_id).update(run_after=timezone.now())


def view(job_id: int) -> queue.JobView:
    (found,) = [j for j in queue.jobs(limit=1000) if j.id == job_id]
    return found
