"""The embedded engine's own mechanics: leases, locks and one row per periodic kind.

Called directly, so these run on both databases whichever engine the suite uses.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from nephro.jobs import embedded, queue
from nephro.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db
EVERY = timedelta(minutes=5)
runs: list[str] = []


@pytest.fixture
def tick(monkeypatch, handlers):
    """Register the periodic "test.tick" for this test only."""
    runs.clear()

    @queue.periodic("test.tick", every=EVERY)
    def _tick():
        runs.append("tick")

    return _tick


def _enqueue(kind: str, **extra) -> Job:
    return Job.objects.get(
        pk=embedded.enqueue(kind, extra, delay_s=0, lock=None, queueing_lock=None)
    )


def _row() -> Job:
    return Job.objects.get(kind="test.tick")


def test_a_job_orphaned_by_a_dead_worker_is_claimed_again(handlers):
    job = _enqueue("test.ok")
    claimed = embedded.claim()
    assert claimed.pk == job.pk and embedded.claim() is None
    Job.objects.filter(pk=job.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert embedded.claim().pk == job.pk


def test_jobs_sharing_a_lock_run_one_at_a_time(handlers):
    first = embedded.enqueue("test.ok", {"n": 1}, delay_s=0, lock="exam-9", queueing_lock=None)
    second = embedded.enqueue("test.ok", {"n": 2}, delay_s=0, lock="exam-9", queueing_lock=None)
    other = embedded.enqueue("test.ok", {"n": 3}, delay_s=0, lock="exam-8", queueing_lock=None)
    assert embedded.claim(["test.ok"]).pk == first
    assert embedded.claim(["test.ok"]).pk == other  # exam 9's second waits for the first
    assert embedded.claim(["test.ok"]) is None
    Job.objects.filter(pk=first).update(state=JobState.DONE)
    assert embedded.claim(["test.ok"]).pk == second


def test_it_queues_one_periodic_row_at_once_and_never_a_second(tick):
    assert embedded.schedule_periodic(["test.tick"]) == 1
    assert embedded.schedule_periodic(["test.tick"]) == 0
    row = _row()
    assert row.state == JobState.QUEUED and row.max_attempts == 1
    assert row.run_after <= timezone.now()


def test_it_requeues_the_same_row_one_period_after_the_run_it_was_due_for(tick):
    embedded.schedule_periodic(["test.tick"])
    due = _row().run_after
    assert embedded.run_pending(["test.tick"]) == 1 and runs == ["tick"]
    assert embedded.schedule_periodic(["test.tick"]) == 1
    row = _row()
    assert row.state == JobState.QUEUED and row.attempts == 0
    assert row.run_after == due + EVERY
    assert embedded.run_pending(["test.tick"]) == 0


def test_after_a_pause_it_runs_at_once(tick):
    embedded.schedule_periodic(["test.tick"])
    Job.objects.filter(kind="test.tick").update(run_after=timezone.now() - timedelta(days=2))
    embedded.run_pending(["test.tick"])
    embedded.schedule_periodic(["test.tick"])
    assert _row().run_after <= timezone.now()
    assert Job.objects.filter(kind="test.tick").count() == 1


def test_a_failed_periodic_run_is_tried_again_next_period(tick, monkeypatch):
    def broken():
        raise RuntimeError("mail server down")

    monkeypatch.setitem(queue._SPECS, "test.tick", queue.Spec("test.tick", broken, 1, EVERY))
    embedded.run_pending(["test.tick"])
    row = _row()
    assert row.state == JobState.FAILED and "mail server down" in row.last_error
    assert embedded.schedule_periodic(["test.tick"]) == 1
    assert _row().state == JobState.QUEUED


def test_it_only_queues_the_kinds_asked_for(tick):
    assert embedded.schedule_periodic(["test.other"]) == 0
    assert not Job.objects.filter(kind="test.tick").exists()
