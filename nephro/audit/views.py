from django.shortcuts import render

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent, Outcome
from nephro.audit.services import record
from nephro.lib.paging import page_of


def search(request):
    events = AuditEvent.objects.all()
    filters = {k: request.GET.get(k, "").strip() for k in ("user", "mrn", "action", "outcome")}
    if filters["user"]:
        events = events.filter(username__icontains=filters["user"])
    if filters["mrn"]:
        events = events.filter(patient_mrn=filters["mrn"])
    if filters["action"]:
        # As shown ('exam: follow up') or as stored ('exam.follow_up').
        code = filters["action"].replace(": ", ".").replace(" ", "_")
        events = events.filter(action__startswith=code)
    if filters["outcome"] not in ("", *Outcome.values):
        context = {"events": [], "filters": filters, "outcomes": Outcome.choices}
        context["error"] = "Choose the outcome from the list."
        return render(request, "audit/search.html", context, status=400)
    if filters["outcome"]:
        events = events.filter(outcome=filters["outcome"])
    page, keep = page_of(request, events.order_by("-seq"), bounded=True)  # millions of events
    # Searching the trail is itself recorded: who looked at whose history.
    record(Actor.of(request), "audit.search", detail={**filters, "page": page.number})
    context = {"events": page, "page": page, "keep": keep}
    context |= {"filters": filters, "outcomes": Outcome.choices}
    return render(request, "audit/search.html", context)
