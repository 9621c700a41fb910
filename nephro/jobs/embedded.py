"""The embedded engine: a small job table in the application's own database.

The single-machine default (SQLite). A worker claims rows with ``SELECT ... FOR UPDATE
SKIP LOCKED`` on PostgreSQL; SQLite serialises writers, which gives the same guarantee.
A claimed job holds a lease; a job running far past it is presumed orphaned by a dead
worker and claimed again. Each periodic kind has one row, re-queued one period after the
run it was due for. The rules shared with the Procrastinate engine are in queue.py.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from datetime import timedelta

from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from nephro.jobs import queue
from nephro.jobs.models import Job, JobState

log = logging.getLogger("nephro.jobs")

# How long a claimed job may run before another worker may presume its worker died.
LEASE = timedelta(minutes=10)
# How often the worker re-queues the periodic jobs that have run.
PERIODIC_CHECK_S = 5.0


def _attempts(kind: str) -> int:
    found = queue.spec(kind)
    return found.max_attempts if found else 5


def enqueue(kind, payload, *, delay_s, lock, queueing_lock) -> int | None:
    if (
        queueing_lock
        and Job.objects.filter(state=JobState.QUEUED, queueing_lock=queueing_lock).exists()
    ):
        return None
    return Job.objects.create(
        kind=kind,
        payload=payload,
        max_attempts=_attempts(kind),
        run_after=timezone.now() + timedelta(seconds=delay_s),
        lock=lock or "",
        queueing_lock=queueing_lock or "",
    ).pk


def enqueue_many(jobs: list[tuple[str, dict]], *, delay_s: float) -> list[int]:
    run_after = timezone.now() + timedelta(seconds=delay_s)
    rows = [
        Job(kind=kind, payload=payload, max_attempts=_attempts(kind), run_after=run_after)
        for kind, payload in jobs
    ]
    return [row.pk for row in Job.objects.bulk_create(rows)]


def _due(now):
    busy = Job.objects.filter(state=JobState.RUNNING, locked_until__gte=now).exclude(lock="")
    return Job.objects.filter(
        Q(state=JobState.QUEUED, run_after__lte=now)
        | Q(state=JobState.RUNNING, locked_until__lt=now)
    ).exclude(lock__in=busy.values("lock"))


def claim(kinds: list[str] | None = None) -> Job | None:
    """Take the next due job, or None. The claim commits before the job runs."""
    now = timezone.now()
    with transaction.atomic():
        due = _due(now).order_by("run_after", "pk")
        if kinds:
            due = due.filter(kind__in=kinds)
        claimed = due.select_for_update(skip_locked=True).first()
        if claimed is None:
            return None
        claimed.state = JobState.RUNNING
        claimed.attempts += 1
        claimed.locked_until = now + LEASE
        claimed.save(update_fields=["state", "attempts", "locked_until", "updated_at"])
    return claimed


def run(claimed: Job) -> bool:
    """Run one claimed job; record success, a retry, or the final failure."""
    handler = queue.handler_for(claimed.kind)
    try:
        if handler is None:
            raise queue.PermanentError(f"no handler registered for job kind {claimed.kind!r}")
        handler(**claimed.payload)
    except Exception as exc:  # a failing job must never stop the worker
        _failed(claimed, exc)
        return False
    claimed.state = JobState.DONE
    claimed.finished_at = timezone.now()
    claimed.locked_until = None
    claimed.last_error = ""
    claimed.save()
    return True


def _failed(claimed: Job, exc: Exception) -> None:
    claimed.last_error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
    if isinstance(exc, queue.PermanentError) or claimed.attempts >= claimed.max_attempts:
        claimed.state = JobState.FAILED
        claimed.finished_at = timezone.now()
        log.error("job %s failed for good: %s", claimed, claimed.last_error)
    else:
        claimed.state = JobState.QUEUED
        claimed.run_after = timezone.now() + queue.backoff(claimed.attempts)
        log.warning("job %s failed (attempt %d), will retry", claimed, claimed.attempts)
    claimed.locked_until = None
    claimed.save()


def run_pending(kinds: list[str] | None = None, limit: int | None = None) -> int:
    schedule_periodic(kinds)
    count = 0
    while limit is None or count < limit:
        claimed = claim(kinds)
        if claimed is None:
            break
        run(claimed)
        count += 1
    return count


def schedule_periodic(kinds: list[str] | None = None) -> int:
    """Queue the next run of each periodic kind that is neither queued nor running."""
    now = timezone.now()
    queued = 0
    for spec in queue.specs():
        if spec.every is None or (kinds and spec.kind not in kinds):
            continue
        with transaction.atomic():
            if connection.vendor == "postgresql":  # two workers starting together: one row
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [spec.kind])
            row = Job.objects.select_for_update().filter(kind=spec.kind).order_by("pk").first()
            if row is None:
                Job.objects.create(kind=spec.kind, max_attempts=1, run_after=now)
            elif row.state in (JobState.DONE, JobState.FAILED):
                row.state = JobState.QUEUED
                row.attempts = 0
                row.run_after = max(now, row.run_after + spec.every)
                row.save(update_fields=["state", "attempts", "run_after", "updated_at"])
            else:
                continue
            queued += 1
    return queued


def work(kinds: list[str] | None, poll: float) -> None:
    """Claim and run jobs until SIGTERM or SIGINT."""
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    next_check = 0.0
    while not stopping:
        close_old_connections()
        if time.monotonic() >= next_check:
            schedule_periodic(kinds)
            next_check = time.monotonic() + PERIODIC_CHECK_S
        claimed = claim(kinds)
        if claimed is None:
            time.sleep(poll)
            continue
        run(claimed)


def jobs(*, kind: str | None, states: list[str], limit: int) -> list[queue.JobView]:
    rows = Job.objects.order_by("-updated_at", "-pk")
    if kind:
        rows = rows.filter(kind=kind)
    if states:
        rows = rows.filter(state__in=states)
    return [
        queue.JobView(
            id=row.pk,
            kind=row.kind,
            payload=row.payload,
            state=row.state,
            attempts=row.attempts,
            error=row.last_error,
            when=row.finished_at or row.run_after,
        )
        for row in rows[:limit]
    ]


def cancel(job_id: int) -> bool:
    return bool(
        Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
            state=JobState.CANCELLED, finished_at=timezone.now(), updated_at=timezone.now()
        )
    )


def retry(job_id: int) -> bool:
    return bool(
        Job.objects.filter(pk=job_id, state=JobState.FAILED).update(
            state=JobState.QUEUED,
            attempts=0,
            run_after=timezone.now(),
            finished_at=None,
            updated_at=timezone.now(),
        )
    )
