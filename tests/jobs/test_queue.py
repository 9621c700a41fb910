"""The background job queue: enqueue, run, retry with backoff, give up."""

from datetime import timedelta

import pytest
from django.utils import timezone

from nephro.jobs import queue
from nephro.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db
calls: list[dict] = []


@queue.job("test.ok")
def _ok(**payload):
    calls.append(payload)


@queue.job("test.flaky", max_attempts=2)
def _flaky(**payload):
    raise RuntimeError("disk busy")


@queue.job("test.bad")
def _bad(**payload):
    raise queue.PermanentError("cannot ever work")


def test_it_runs_a_queued_job_with_its_payload():
    calls.clear()
    job = queue.enqueue("test.ok", instance_id=7)
    assert queue.run_pending() == 1
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.attempts == 1 and job.finished_at
    assert calls == [{"instance_id": 7}]
    assert queue.run_pending() == 0


def test_it_waits_for_run_after():
    queue.enqueue("test.ok", delay_s=60)
    assert queue.run_pending() == 0


def test_it_retries_with_backoff_then_gives_up():
    job = queue.enqueue("test.flaky")
    assert job.max_attempts == 2
    queue.run_pending()
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and "disk busy" in job.last_error
    assert job.run_after > timezone.now() + timedelta(seconds=3)
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    queue.run_pending()
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.attempts == 2


def test_a_permanent_error_fails_at_once():
    job = queue.enqueue("test.bad")
    queue.run_pending()
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.attempts == 1


def test_an_unknown_kind_fails_without_stopping_the_others():
    calls.clear()
    unknown = queue.enqueue("test.nobody")
    queue.enqueue("test.ok", n=1)
    assert queue.run_pending() == 2
    unknown.refresh_from_db()
    assert unknown.state == JobState.FAILED and "no handler" in unknown.last_error
    assert calls == [{"n": 1}]


def test_a_job_orphaned_by_a_dead_worker_is_claimed_again():
    job = queue.enqueue("test.ok")
    claimed = queue.claim()
    assert claimed.pk == job.pk and queue.claim() is None
    Job.objects.filter(pk=job.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert queue.claim().pk == job.pk


def test_backoff_grows_and_is_capped():
    assert queue.backoff(1) < queue.backoff(2) < queue.backoff(3)
    assert queue.backoff(50) == timedelta(seconds=queue.BACKOFF_MAX_S)


def test_the_worker_command_runs_once(capsys):
    from django.core.management import call_command

    queue.enqueue("test.ok")
    # Only this kind: --once also runs the apps' periodic jobs (tests/jobs/test_periodic.py).
    call_command("worker", "--once", "--kind", "test.ok")
    assert "ran 1 job" in capsys.readouterr().out


def test_enqueue_many_queues_every_job_with_one_insert(django_assert_num_queries):
    calls.clear()
    with django_assert_num_queries(1):
        jobs = queue.enqueue_many([("test.ok", {"n": 1}), ("test.flaky", {"n": 2})])
    assert [(j.kind, j.max_attempts) for j in jobs] == [("test.ok", 5), ("test.flaky", 2)]
    assert queue.run_pending(["test.ok"]) == 1
    assert calls == [{"n": 1}]
    assert queue.enqueue_many([]) == []
