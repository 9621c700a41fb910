"""What the administrator may do to a job: queue a failed one again, cancel a waiting one."""

from __future__ import annotations

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.jobs import queue

ACTIONS = {"retry": queue.retry, "cancel": queue.cancel}


class JobActionError(ValueError):
    """The request names no known action, or no job in a state the action applies to."""


def act(actor: Actor, action: str, job_id: int) -> None:
    """Retry or cancel one job, and put it on the audit trail."""
    if action not in ACTIONS:
        raise JobActionError(f"Unknown action {action!r}: choose retry or cancel.")
    if not ACTIONS[action](job_id):
        state = "failed" if action == "retry" else "waiting"
        raise JobActionError(f"Job {job_id} is not a {state} job: nothing was changed.")
    record(actor, f"job.{action}", detail={"job": job_id})
