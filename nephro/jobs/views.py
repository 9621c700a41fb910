"""The administrator's view of background jobs: the failed ones, and those waiting."""

from django.contrib import messages
from django.shortcuts import redirect, render

from nephro.audit.actor import Actor
from nephro.jobs import admin_actions, queue
from nephro.lib.paging import page_of

# The page lists the newest this many jobs of each state, fifty a page.
LISTED = 1000


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
        **_listed(request, "failed"),
        **_listed(request, "waiting", state="queued"),
        "engine": queue.backend().__name__.rsplit(".", 1)[-1],
        "error": error,
    }
    return render(request, "jobs/list.html", context, status=status)


def _listed(request, name: str, *, state: str = "") -> dict:
    """One list of jobs, paged: its page, the other query parameters, and whether it
    stops at LISTED; each job with its kind in words."""
    rows = [(j, queue.describe(j.kind)) for j in queue.jobs(states=[state or name], limit=LISTED)]
    page, keep = page_of(request, rows, param=name)
    return {name: page, f"{name}_keep": keep, f"{name}_capped": len(rows) == LISTED}
