"""Enqueue, claim and run background jobs.

Handlers register by kind with ``@job("kind")``; ``enqueue("kind", **payload)`` adds a
row (inside the caller's transaction, so a job never exists for work that rolled back);
``nephro worker`` claims rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL
(SQLite serialises writers, which gives the same guarantee) and retries failures with
exponential backoff. ``run_pending()`` runs everything that is due, synchronously, for
tests and one-shot use. ``@periodic("kind", every=...)`` registers a handler that the
worker runs again and again: ``schedule_periodic()`` keeps one row per periodic kind and
re-queues it after each run.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from nephro.jobs.models import Job, JobState

log = logging.getLogger("nephro.jobs")

Handler = Callable[..., object]
_HANDLERS: dict[str, Handler] = {}
_PERIODIC: dict[str, timedelta] = {}

# How long a claimed job may run before another worker may presume its worker died.
LEASE = timedelta(minutes=10)
BACKOFF_BASE_S = 5
BACKOFF_MAX_S = 3600


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help (bad input): the job fails at once."""


def job(kind: str, *, max_attempts: int = 5) -> Callable[[Handler], Handler]:
    """Register ``func(**payload)`` as the handler for jobs of ``kind``."""

    def register(func: Handler) -> Handler:
        if kind in _HANDLERS and _HANDLERS[kind] is not func:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        _HANDLERS[kind] = func
        func.job_max_attempts = max_attempts  # type: ignore[attr-defined]
        return func

    return register


def handler_for(kind: str) -> Handler | None:
    return _HANDLERS.get(kind)


def enqueue(kind: str, *, delay_s: float = 0, **payload) -> Job:
    handler = _HANDLERS.get(kind)
    max_attempts = getattr(handler, "job_max_attempts", 5)
    return Job.objects.create(
        kind=kind,
        payload=payload,
        max_attempts=max_attempts,
        run_after=timezone.now() + timedelta(seconds=delay_s),
    )


def enqueue_many(jobs: Iterable[tuple[str, dict]], *, delay_s: float = 0) -> list[Job]:
    """Queue several ``(kind, payload)`` jobs with one INSERT (same rules as enqueue)."""
    run_after = timezone.now() + timedelta(seconds=delay_s)
    return Job.objects.bulk_create(
        [
            Job(
                kind=kind,
                payload=payload,
                max_attempts=getattr(_HANDLERS.get(kind), "job_max_attempts", 5),
                run_after=run_after,
            )
            for kind, payload in jobs
        ]
    )


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def _due(now):
    return Job.objects.filter(
        Q(state=JobState.QUEUED, run_after__lte=now)
        | Q(state=JobState.RUNNING, locked_until__lt=now)
    )


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
    handler = _HANDLERS.get(claimed.kind)
    try:
        if handler is None:
            raise PermanentError(f"no handler registered for job kind {claimed.kind!r}")
        handler(**claimed.payload)
    except Exception as exc:  # a failing job must never stop the worker
        permanent = isinstance(exc, PermanentError)
        claimed.last_error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        if permanent or claimed.attempts >= claimed.max_attempts:
            claimed.state = JobState.FAILED
            claimed.finished_at = timezone.now()
            log.error("job %s failed for good: %s", claimed, claimed.last_error)
        else:
            claimed.state = JobState.QUEUED
            claimed.run_after = timezone.now() + backoff(claimed.attempts)
            log.warning(
                "job %s failed (attempt %d), will retry: %s",
                claimed,
                claimed.attempts,
                claimed.last_error,
            )
        claimed.locked_until = None
        claimed.save()
        return False
    claimed.state = JobState.DONE
    claimed.finished_at = timezone.now()
    claimed.locked_until = None
    claimed.last_error = ""
    claimed.save()
    return True


def run_pending(kinds: list[str] | None = None, limit: int | None = None) -> int:
    """Run due jobs until none is left (or ``limit`` ran); return how many ran."""
    count = 0
    while limit is None or count < limit:
        claimed = claim(kinds)
        if claimed is None:
            break
        run(claimed)
        count += 1
    return count


def periodic(kind: str, *, every: timedelta) -> Callable[[Handler], Handler]:
    """Register ``func()`` to run every ``every`` under ``nephro worker``.

    One attempt per run: a failed run is logged and the next period tries again. The
    handler must be idempotent; at most one run of a kind is queued or running.
    """

    def register(func: Handler) -> Handler:
        job(kind, max_attempts=1)(func)
        _PERIODIC[kind] = every
        return func

    return register


def schedule_periodic(kinds: list[str] | None = None) -> int:
    """Queue the next run of each periodic kind that is neither queued nor running.

    Each kind has one row, created on first use and re-queued ``every`` after the run it
    last was due for (at once if that is past). Returns how many were queued.
    """
    now = timezone.now()
    queued = 0
    for kind, every in _PERIODIC.items():
        if kinds and kind not in kinds:
            continue
        with transaction.atomic():
            if connection.vendor == "postgresql":  # two workers starting together: one row
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [kind])
            row = Job.objects.select_for_update().filter(kind=kind).order_by("pk").first()
            if row is None:
                Job.objects.create(kind=kind, max_attempts=1, run_after=now)
            elif row.state in (JobState.DONE, JobState.FAILED):
                row.state = JobState.QUEUED
                row.attempts = 0
                row.run_after = max(now, row.run_after + every)
                row.save(update_fields=["state", "attempts", "run_after", "updated_at"])
            else:
                continue
            queued += 1
    return queued
