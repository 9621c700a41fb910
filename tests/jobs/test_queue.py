"""The seam the apps use, on whichever engine the settings chose (the suite runs both)."""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from nephro.jobs import queue
from tests.jobs.conftest import make_due, view

pytestmark = pytest.mark.django_db


def test_it_runs_a_queued_job_with_its_payload(handlers):
    queue.enqueue("test.ok", instance_id=7)
    assert queue.run_pending() >= 1
    assert handlers == [{"instance_id": 7}]
    assert queue.run_pending(["test.ok"]) == 0


def test_it_waits_for_its_delay(handlers):
    queue.enqueue("test.ok", delay_s=60)
    assert queue.run_pending(["test.ok"]) == 0
    assert handlers == []


def test_nothing_is_queued_for_a_change_that_rolled_back(handlers):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue("test.ok", n=1)
        queue.enqueue_many([("test.ok", {"n": 2})])
        raise RuntimeError("the caller's change failed")
    assert queue.jobs(kind="test.ok") == []
    assert queue.run_pending(["test.ok"]) == 0 and handlers == []


def test_it_retries_with_backoff_then_gives_up(handlers):
    job_id = queue.enqueue("test.flaky")
    assert queue.run_pending(["test.flaky"]) == 1
    first = view(job_id)
    assert first.state == "queued" and "disk busy" in first.error
    assert queue.run_pending(["test.flaky"]) == 0  # backing off
    make_due(job_id)
    assert queue.run_pending(["test.flaky"]) == 1
    last = view(job_id)
    assert last.state == "failed" and last.attempts == 2 and "disk busy" in last.error


def test_a_permanent_error_fails_at_once(handlers):
    job_id = queue.enqueue("test.bad")
    queue.run_pending(["test.bad"])
    failed = view(job_id)
    assert failed.state == "failed" and failed.attempts == 1
    assert "cannot ever work" in failed.error


def test_an_unknown_kind_fails_without_stopping_the_others(handlers):
    unknown = queue.enqueue("test.nobody")
    queue.enqueue("test.ok", n=1)
    assert queue.run_pending(["test.nobody", "test.ok"]) == 2
    assert view(unknown).state == "failed" and "no handler" in view(unknown).error
    assert handlers == [{"n": 1}]


def test_enqueue_many_queues_every_job_with_one_insert(handlers, django_assert_num_queries):
    with django_assert_num_queries(1):
        ids = queue.enqueue_many([("test.ok", {"n": 1}), ("test.flaky", {"n": 2})])
    assert [view(i).kind for i in ids] == ["test.ok", "test.flaky"]
    assert queue.run_pending(["test.ok"]) == 1 and handlers == [{"n": 1}]
    assert queue.enqueue_many([]) == []


def test_a_queueing_lock_keeps_one_job_waiting(handlers):
    first = queue.enqueue("test.ok", queueing_lock="exam-1", n=1)
    assert first is not None
    assert queue.enqueue("test.ok", queueing_lock="exam-1", n=2) is None
    assert queue.enqueue("test.ok", queueing_lock="exam-2", n=3) is not None
    queue.run_pending(["test.ok"])
    assert sorted(c["n"] for c in handlers) == [1, 3]
    assert queue.enqueue("test.ok", queueing_lock="exam-1", n=4) is not None


def test_a_waiting_job_can_be_cancelled_and_never_runs(handlers):
    job_id = queue.enqueue("test.ok", n=1)
    assert queue.cancel(job_id) is True
    assert queue.cancel(job_id) is False
    assert queue.run_pending(["test.ok"]) == 0 and handlers == []
    assert view(job_id).state == "cancelled"


def test_a_failed_job_can_be_queued_again(handlers):
    job_id = queue.enqueue("test.bad")
    queue.run_pending(["test.bad"])
    assert queue.retry(job_id) is True
    assert view(job_id).state == "queued"
    assert queue.retry(job_id) is False  # only a failed job
    assert queue.run_pending(["test.bad"]) == 1


def test_jobs_lists_by_state(handlers):
    bad = queue.enqueue("test.bad")
    waiting = queue.enqueue("test.ok", delay_s=600)
    queue.run_pending(["test.bad"])
    assert [j.id for j in queue.jobs(states=["failed"]) if j.kind.startswith("test.")] == [bad]
    queued = queue.jobs(kind="test.ok", states=["queued"])
    assert [j.id for j in queued] == [waiting]
    assert queued[0].when > timezone.now() + timedelta(minutes=9)


def test_the_worker_command_runs_once(handlers):
    queue.enqueue("test.ok")
    out = StringIO()
    call_command("worker", "--once", "--kind", "test.ok", stdout=out)
    assert "ran 1 job(s)" in out.getvalue()


def test_backoff_grows_and_is_capped():
    assert queue.backoff(1) < queue.backoff(2) < queue.backoff(3)
    assert queue.backoff(50) == timedelta(seconds=queue.BACKOFF_MAX_S)


@pytest.mark.parametrize(
    ("every", "line"),
    [
        (timedelta(minutes=1), "* * * * *"),
        (timedelta(minutes=15), "*/15 * * * *"),
        (timedelta(hours=1), "0 * * * *"),
        (timedelta(hours=6), "0 */6 * * *"),
    ],
)
def test_a_period_becomes_a_cron_line(every, line):
    assert queue.cron(every) == line


@pytest.mark.parametrize("every", [timedelta(seconds=30), timedelta(minutes=7), timedelta(hours=5)])
def test_a_period_no_engine_can_keep_is_refused_at_registration(every, handlers):
    with pytest.raises(ValueError, match="period"):
        queue.periodic("test.odd", every=every)(lambda: None)


def test_two_handlers_for_one_kind_are_refused(handlers):
    with pytest.raises(ValueError, match="already registered"):
        queue.job("test.ok")(lambda: None)


def _engine(**env) -> subprocess.CompletedProcess:
    """Load the settings in a fresh interpreter with this environment."""
    environ = {k: v for k, v in os.environ.items() if k != "NEPHRO_JOBS_BACKEND"}
    environ.update(NEPHRO_DEMO="true", DJANGO_SETTINGS_MODULE="nephro.settings", **env)
    code = "import django; django.setup(); from django.conf import settings as s; "
    code += "print(s.NEPHRO_JOBS_BACKEND)"
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("env", "engine"),
    [
        ({"DATABASE_URL": "sqlite:///x.sqlite3"}, "embedded"),
        ({"DATABASE_URL": "postgres://u@127.0.0.1:5432/x"}, "procrastinate"),
        (
            {"DATABASE_URL": "postgres://u@127.0.0.1/x", "NEPHRO_JOBS_BACKEND": "embedded"},
            "embedded",
        ),
    ],
)
def test_the_engine_follows_the_database_unless_told(env, engine):
    done = _engine(**env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == engine


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DATABASE_URL": "sqlite:///x.sqlite3", "NEPHRO_JOBS_BACKEND": "procrastinate"},
            "needs PostgreSQL",
        ),
        ({"NEPHRO_JOBS_BACKEND": "celery"}, "must be 'procrastinate' or 'embedded'"),
    ],
)
def test_a_bad_engine_setting_stops_with_a_clear_message(env, message):
    done = _engine(**env)
    assert done.returncode != 0 and message in done.stderr
