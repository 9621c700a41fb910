"""The administrator's view of background jobs: the failed ones, and those waiting."""

from django.contrib import messages
from django.shortcuts import redirect, render

from nephro.audit.actor import Actor
from nephro.jobs import admin_actions, queue


def job_list(request):
    if request.method != "POST":
        return _page(request)
    job = request.POST.get("job", "")
    if not job.isdigit():
        return _page(request, error="Choose a job from the list.", status=400)
    action = request.POST.get("action", "")
    try:
        admin_actions.act(Actor.of(request), action, int(job))
    except admin_actions.JobActionError as exc:
        return _page(request, error=str(exc), status=400)
    messages.success(request, f"Job {job}: {action} done.")
    return redirect("jobs:list")


def _page(request, *, error: str = "", status: int = 200):
    context = {
        "failed": queue.jobs(states=["failed"]),
        "waiting": queue.jobs(states=["queued"], limit=50),
        "engine": queue.backend().__name__.rsplit(".", 1)[-1],
        "error": error,
    }
    return render(request, "jobs/list.html", context, status=status)
