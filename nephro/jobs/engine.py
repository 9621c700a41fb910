"""The Procrastinate engine (PostgreSQL), behind the seam in nephro.jobs.queue.

Each registered kind becomes a Procrastinate task of the same name, in a queue of the
same name (so ``nephro worker --kind`` is a queue filter). Procrastinate brings what the
embedded engine cannot: workers on any number of machines (``FOR UPDATE SKIP LOCKED`` in
its own SQL procedures), locks and queueing locks, periodic jobs deferred once per period
whatever the number of workers (a unique row per task and timestamp), cancellation, and
worker heartbeats. Enqueueing goes through Django's own connection (the Django connector),
so a job is part of the caller's transaction. Succeeded jobs are deleted; failed ones stay
for the administrator, with their last error in ``JobError``.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from asgiref.sync import async_to_sync
from django.db import close_old_connections, connections, transaction
from django.db.models import Max
from procrastinate import BaseRetryStrategy, RetryDecision, exceptions, sql
from procrastinate import jobs as procrastinate_jobs
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.periodic import PeriodicDeferrer

from nephro.jobs import queue
from nephro.jobs.models import JobError

STATE_OF = {
    "todo": "queued",
    "doing": "running",
    "succeeded": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "aborted": "cancelled",
}
# A worker that has not beaten its heart for this long is presumed dead; its running
# jobs are queued again by the "jobs.retry_stalled" periodic job.
STALLED_AFTER_S = 60


class Backoff(BaseRetryStrategy):
    """queue.backoff() between tries, at most ``max_attempts`` runs, none after PermanentError."""

    def __init__(self, max_attempts: int):
        self.max_attempts = max_attempts

    def get_retry_decision(self, *, exception, job) -> RetryDecision | None:
        runs = job.attempts + 1  # Procrastinate counts the runs before this one
        if isinstance(exception, queue.PermanentError) or runs >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": int(queue.backoff(runs).total_seconds())})


def _task(spec: queue.Spec):
    task = app.tasks.get(spec.kind)
    if task is not None:
        return task
    func = spec.func
    if spec.every is not None:

        def func(timestamp: int, _run=spec.func):  # the period's start, given by Procrastinate
            return _run()

    task = app.task(name=spec.kind, queue=spec.kind, retry=Backoff(spec.max_attempts))(func)
    if spec.every is not None:
        app.periodic(cron=queue.cron(spec.every))(task)
    return task


def register_all() -> None:
    """Make every registered kind a Procrastinate task (the worker needs them all)."""
    for spec in queue.specs():
        _task(spec)


def _deferrer(kind: str, *, delay_s: float, lock=None, queueing_lock=None):
    spec = queue.spec(kind)
    if spec is not None:
        _task(spec)
    return app.configure_task(
        name=kind,
        queue=kind,
        schedule_in={"seconds": delay_s} if delay_s else None,
        lock=lock,
        queueing_lock=queueing_lock,
    )


def enqueue(kind, payload, *, delay_s, lock, queueing_lock) -> int | None:
    deferrer = _deferrer(kind, delay_s=delay_s, lock=lock, queueing_lock=queueing_lock)
    try:
        with transaction.atomic():  # a savepoint: the refused insert spoils nothing else
            return deferrer.defer(**payload)
    except exceptions.AlreadyEnqueued:
        return None


def enqueue_many(jobs: list[tuple[str, dict]], *, delay_s: float) -> list[int]:
    if not jobs:
        return []
    made = [_deferrer(kind, delay_s=delay_s).make_new_job(**payload) for kind, payload in jobs]
    return [made_job.id for made_job in app.job_manager.batch_defer_jobs(made)]


def note_error(job: procrastinate_jobs.Job, exc: BaseException) -> None:
    error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
    JobError.objects.update_or_create(
        job_id=job.id, defaults={"kind": job.task_name, "error": error}
    )


def _record_errors(call_next, context, worker):
    """Task middleware of the real worker: fresh connections, and each error noted."""
    close_old_connections()
    try:
        return call_next()
    except Exception as exc:
        note_error(context.job, exc)
        raise
    finally:
        close_old_connections()


def _defer_periodic(kinds: list[str] | None) -> None:
    deferrer = PeriodicDeferrer(registry=app.periodic_registry)
    due = [
        (periodic, stamp)
        for periodic, stamp in deferrer.get_previous_tasks(at=time.time())
        if not kinds or periodic.task.name in kinds
    ]
    _wait_for(deferrer.defer_jobs, due)


def _wait_for(coroutine_function, *args):
    """Run a coroutine to the end from synchronous code. Under async_to_sync the Django
    connector runs its queries on this thread; a thread whose event loop is running
    (Playwright's sync API keeps one on the test's main thread) cannot do that, so there
    the work goes to a helper thread, with a connection of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return async_to_sync(coroutine_function)(*args)

    def elsewhere():
        try:
            return async_to_sync(coroutine_function)(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(elsewhere).result()


def run_pending(kinds: list[str] | None = None, limit: int | None = None) -> int:
    """Run due jobs on this thread and connection, through Procrastinate's own procedures."""
    register_all()
    _defer_periodic(kinds)
    connector = app.connector
    worker_id = connector.execute_query_one(query=sql.queries["register_worker"])["worker_id"]
    count = 0
    try:
        while limit is None or count < limit:
            row = connector.execute_query_one(
                query=sql.queries["fetch_job"], queues=kinds, worker_id=worker_id
            )
            if row["id"] is None:
                break
            # Django's connection hands jsonb back as text.
            row["args"] = json.loads(row["args"]) if isinstance(row["args"], str) else row["args"]
            _run(procrastinate_jobs.Job.from_row(row))
            count += 1
    finally:
        connector.execute_query(query=sql.queries["unregister_worker"], worker_id=worker_id)
    return count


def _run(job: procrastinate_jobs.Job) -> None:
    task = app.tasks.get(job.task_name)
    try:
        if task is None:
            raise queue.PermanentError(f"no handler registered for job kind {job.task_name!r}")
        task(**job.task_kwargs)
    except Exception as exc:  # a failing job must never stop the others
        note_error(job, exc)
        decision = task.retry_strategy.get_retry_exception(exc, job) if task else None
        if decision is None:
            _finish(job, "failed")
        else:
            _retry(job.id, decision.retry_decision.retry_at)
        return
    _finish(job, "succeeded")


def _finish(job: procrastinate_jobs.Job, status: str) -> None:
    app.connector.execute_query(
        query=sql.queries["finish_job"],
        job_id=job.id,
        status=status,
        delete_job=status == "succeeded",
    )


def _retry(job_id: int, retry_at) -> None:
    app.connector.execute_query(
        query=sql.queries["retry_job"],
        job_id=job_id,
        retry_at=retry_at,  # None: at once
        new_priority=None,
        new_queue_name=None,
        new_lock=None,
    )


def work(kinds: list[str] | None, poll: float, concurrency: int = 1) -> None:
    """Run Procrastinate's worker until SIGTERM or SIGINT (it finishes the running jobs)."""
    register_all()
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(
            queues=kinds,
            concurrency=concurrency,
            fetch_job_polling_interval=poll,
            delete_jobs="successful",
            task_middleware=[_record_errors],
        )


def install() -> None:
    """Register the engine's own periodic job (called by the jobs app when it is chosen)."""
    queue.periodic("jobs.retry_stalled", every=timedelta(minutes=1))(retry_stalled)


def retry_stalled() -> int:
    """Queue again the running jobs of workers that died (no heartbeat for a minute)."""
    stalled = app.connector.execute_query_all(
        query=sql.queries["select_stalled_jobs_by_heartbeat"],
        queue=None,
        task_name=None,
        seconds_since_heartbeat=STALLED_AFTER_S,
    )
    for row in stalled:
        _retry(row["id"], None)
    return len(stalled)


def jobs(*, kind: str | None, states: list[str], limit: int) -> list[queue.JobView]:
    rows = ProcrastinateJob.objects.annotate(last=Max("procrastinateevent__at")).order_by("-id")
    if kind:
        rows = rows.filter(task_name=kind)
    if states:
        rows = rows.filter(status__in=[s for s, state in STATE_OF.items() if state in states])
    rows = list(rows[:limit])
    errors = dict(
        JobError.objects.filter(job_id__in=[r.id for r in rows]).values_list("job_id", "error")
    )
    return [
        queue.JobView(
            id=row.id,
            kind=row.task_name,
            payload=row.args,
            state=STATE_OF[row.status],
            attempts=row.attempts,
            error=errors.get(row.id, ""),
            when=(row.scheduled_at if row.status == "todo" else None) or row.last,
        )
        for row in rows
    ]


def cancel(job_id: int) -> bool:
    return app.job_manager.cancel_job_by_id(job_id)


def retry(job_id: int) -> bool:
    if not ProcrastinateJob.objects.filter(id=job_id, status="failed").exists():
        return False
    _retry(job_id, None)
    return True
