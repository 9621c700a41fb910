"""The one seam the apps use for background work, whatever engine runs it.

Handlers register by kind with ``@job("kind")`` (or ``@periodic("kind", every=...)``);
``enqueue("kind", **payload)`` queues one run inside the caller's transaction, so a job
never exists for work that rolled back. ``settings.NEPHRO_JOBS_BACKEND`` chooses the
engine: ``procrastinate`` (PostgreSQL: workers on any number of machines, see
nephro.jobs.engine) or ``embedded`` (a small table of our own, the single-machine SQLite
default, see nephro.jobs.embedded). ``run_pending()`` runs what is due, here and now, for
tests and one-shot use; ``nephro worker`` runs the engine's worker.

Both engines share the rules below: a handler failing is retried with exponential backoff
up to ``max_attempts`` runs, a ``PermanentError`` fails it at once, a periodic handler
gets one attempt per period. ``lock`` makes jobs sharing it run one at a time;
``queueing_lock`` keeps at most one such job waiting (a second enqueue returns None).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType

from django.conf import settings

Handler = Callable[..., object]
BACKOFF_BASE_S = 5
BACKOFF_MAX_S = 3600


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help (bad input): the job fails at once."""


@dataclass(frozen=True)
class Spec:
    kind: str
    func: Handler
    max_attempts: int = 5
    every: timedelta | None = None  # set for periodic jobs


@dataclass(frozen=True)
class JobView:
    """One job as the administrator sees it, whichever engine holds it."""

    id: int
    kind: str
    payload: dict
    state: str  # queued, running, done, failed, cancelled
    attempts: int
    error: str
    when: datetime | None


_SPECS: dict[str, Spec] = {}


def job(kind: str, *, max_attempts: int = 5) -> Callable[[Handler], Handler]:
    """Register ``func(**payload)`` as the handler for jobs of ``kind``."""

    def register(func: Handler) -> Handler:
        _register(Spec(kind, func, max_attempts))
        return func

    return register


def periodic(kind: str, *, every: timedelta) -> Callable[[Handler], Handler]:
    """Register ``func()`` to run once every ``every``, however many workers run.

    One attempt per run: a failed run is logged and the next period tries again. The
    handler must be idempotent. ``every`` is whole minutes dividing an hour or a day.
    """

    def register(func: Handler) -> Handler:
        cron(every)  # refuse a period the engines cannot keep, at import time
        _register(Spec(kind, func, max_attempts=1, every=every))
        return func

    return register


def _register(spec: Spec) -> None:
    known = _SPECS.get(spec.kind)
    if known is not None and known.func is not spec.func:
        raise ValueError(f"a handler for job kind {spec.kind!r} is already registered")
    _SPECS[spec.kind] = spec


def spec(kind: str) -> Spec | None:
    return _SPECS.get(kind)


def specs() -> list[Spec]:
    return list(_SPECS.values())


def handler_for(kind: str) -> Handler | None:
    found = _SPECS.get(kind)
    return found.func if found else None


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed runs: 5 s, 10 s, 20 s... 1 h."""
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def cron(every: timedelta) -> str:
    """The cron line for a period of whole minutes dividing an hour, or whole hours a day."""
    minutes, rest = divmod(int(every.total_seconds()), 60)
    if rest or minutes < 1:
        raise ValueError(f"a periodic job runs every whole number of minutes, not {every}")
    if minutes == 1:
        return "* * * * *"
    if minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    hours, rest = divmod(minutes, 60)
    if not rest and 24 % hours == 0:
        return f"0 */{hours} * * *" if hours > 1 else "0 * * * *"
    raise ValueError(f"a periodic job's period must divide an hour or a day, not {every}")


def backend() -> ModuleType:
    """The engine module chosen by settings.NEPHRO_JOBS_BACKEND."""
    if settings.NEPHRO_JOBS_BACKEND == "procrastinate":
        from nephro.jobs import engine

        return engine
    from nephro.jobs import embedded

    return embedded


def enqueue(
    kind: str,
    *,
    delay_s: float = 0,
    lock: str | None = None,
    queueing_lock: str | None = None,
    **payload,
) -> int | None:
    """Queue one run of ``kind``; its id, or None if ``queueing_lock`` is already waiting."""
    return backend().enqueue(kind, payload, delay_s=delay_s, lock=lock, queueing_lock=queueing_lock)


def enqueue_many(jobs: Iterable[tuple[str, dict]], *, delay_s: float = 0) -> list[int]:
    """Queue several ``(kind, payload)`` jobs with one INSERT (same rules as enqueue)."""
    return backend().enqueue_many(list(jobs), delay_s=delay_s)


def run_pending(kinds: list[str] | None = None, limit: int | None = None) -> int:
    """Run due jobs here, until none is left (or ``limit`` ran); return how many ran.

    Periodic jobs due in the current period are queued first.
    """
    return backend().run_pending(kinds, limit)


def jobs(
    *, kind: str | None = None, states: Iterable[str] | None = None, limit: int = 200
) -> list[JobView]:
    """The newest jobs, optionally of one kind and in some states."""
    return backend().jobs(kind=kind, states=list(states or []), limit=limit)


def describe(kind: str) -> str:
    """A job kind in words: the first line of its handler's docstring (else the kind)."""
    spec = _SPECS.get(kind)
    doc = (spec.func.__doc__ or "").strip() if spec else ""
    return doc.splitlines()[0] if doc else kind


def cancel(job_id: int) -> bool:
    """Cancel a job that has not started; False if there is no such waiting job."""
    return backend().cancel(job_id)


def retry(job_id: int) -> bool:
    """Queue a failed job again, at once; False if there is no such failed job."""
    return backend().retry(job_id)
