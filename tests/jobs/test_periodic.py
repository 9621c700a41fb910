"""Periodic jobs: one row per kind, re-queued after each run, run by `nephro worker`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from nephro.jobs import queue
from nephro.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db
EVERY = timedelta(minutes=5)
runs: list[str] = []


@pytest.fixture
def tick(monkeypatch):
    """Register "test.tick" for this test only, so the registry stays as the apps left it."""
    monkeypatch.setattr(queue, "_PERIODIC", dict(queue._PERIODIC))
    monkeypatch.setattr(queue, "_HANDLERS", dict(queue._HANDLERS))
    runs.clear()

    @queue.periodic("test.tick", every=EVERY)
    def _tick():
        runs.append("tick")

    return _tick


def _row() -> Job:
    return Job.objects.get(kind="test.tick")


def test_it_queues_one_row_at_once_and_never_a_second(tick):
    assert queue.schedule_periodic(["test.tick"]) == 1
    assert queue.schedule_periodic(["test.tick"]) == 0
    row = _row()
    assert row.state == JobState.QUEUED and row.max_attempts == 1
    assert row.run_after <= timezone.now()


def test_it_requeues_the_same_row_one_period_after_the_run_it_was_due_for(tick):
    queue.schedule_periodic(["test.tick"])
    due = _row().run_after
    assert queue.run_pending(["test.tick"]) == 1 and runs == ["tick"]
    assert queue.schedule_periodic(["test.tick"]) == 1
    row = _row()
    assert row.state == JobState.QUEUED and row.attempts == 0
    assert row.run_after == due + EVERY
    assert queue.run_pending(["test.tick"]) == 0


def test_after_a_pause_it_runs_at_once(tick):
    queue.schedule_periodic(["test.tick"])
    Job.objects.filter(kind="test.tick").update(run_after=timezone.now() - timedelta(days=2))
    queue.run_pending(["test.tick"])
    queue.schedule_periodic(["test.tick"])
    assert _row().run_after <= timezone.now()
    assert Job.objects.filter(kind="test.tick").count() == 1


def test_a_failed_run_is_tried_again_next_period(tick, monkeypatch):
    def broken():
        raise RuntimeError("mail server down")

    monkeypatch.setitem(queue._HANDLERS, "test.tick", broken)
    queue.schedule_periodic(["test.tick"])
    queue.run_pending(["test.tick"])
    row = _row()
    assert row.state == JobState.FAILED and "mail server down" in row.last_error
    assert queue.schedule_periodic(["test.tick"]) == 1
    assert _row().state == JobState.QUEUED


def test_it_only_queues_the_kinds_asked_for(tick):
    assert queue.schedule_periodic(["test.other"]) == 0
    assert not Job.objects.filter(kind="test.tick").exists()


def test_the_worker_once_runs_periodic_jobs(tick):
    out = StringIO()
    call_command("worker", "--once", "--kind", "test.tick", stdout=out)
    assert "ran 1 job(s)" in out.getvalue() and runs == ["tick"]
    assert _row().state == JobState.DONE
