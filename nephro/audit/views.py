from django.shortcuts import render

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.audit.services import record


def search(request):
    events = AuditEvent.objects.all()
    filters = {k: request.GET.get(k, "").strip() for k in ("user", "mrn", "action", "outcome")}
    if filters["user"]:
        events = events.filter(username__icontains=filters["user"])
    if filters["mrn"]:
        events = events.filter(patient_mrn=filters["mrn"])
    if filters["action"]:
        events = events.filter(action__startswith=filters["action"])
    if filters["outcome"]:
        events = events.filter(outcome=filters["outcome"])
    events = list(events[:200])
    # Searching the trail is itself recorded: who looked at whose history.
    record(Actor.of(request), "audit.search", detail=filters)
    return render(request, "audit/search.html", {"events": events, "filters": filters})
