"""The role dashboards: each role lands on the worklists it works from."""

from django.db import connection
from django.db.models import QuerySet
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from nephro.accounts.roles import Role
from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams.access import visible_exams
from nephro.exams.lifecycle import FINISHED, State
from nephro.exams.selectors import listed, scheduled_on
from nephro.followup.selectors import open_alerts
from nephro.lib import paging
from nephro.lib.paging import page_of
from nephro.portal import views as portal_views
from nephro.reports.models import ReportStatus
from nephro.tubes.services import tubes_due


def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _lists(user) -> list[tuple[str, str, QuerySet]]:
    """(title, empty text, rows) for each worklist this role sees."""
    exams = listed(visible_exams(user))
    today = timezone.localdate()
    todays = exams.filter(scheduled_on(today)).exclude(state__in=FINISHED)
    role = user.role
    if role == Role.REFERRER:
        return [
            (
                "My open orders",
                "No open orders.",
                exams.exclude(state__in=FINISHED).order_by("-created_at", "pk"),
            ),
            (
                "Reports ready",
                "No new reports.",
                exams.filter(state__in=[State.REPORTED, State.FOLLOW_UP]).order_by(
                    "-updated_at", "pk"
                ),
            ),
        ]
    lists = [("Today", "Nothing scheduled today.", todays.order_by("scheduled_at", "pk"))]
    if role == Role.RADIOLOGIST:
        lists.insert(
            0,
            (
                "Holds needing a decision",
                "No holds.",
                exams.filter(state=State.ON_HOLD).order_by("updated_at", "pk"),
            ),
        )
        lists.insert(
            1,
            (
                "Reports to sign",
                "Nothing to sign.",
                exams.filter(state__in=[State.COMPLETED, State.REPORTED])
                .exclude(report__status=ReportStatus.FINAL)
                .order_by("completed_at", "pk"),
            ),
        )
    if role == Role.NURSE:
        lists.insert(
            0,
            (
                "To screen",
                "No new orders.",
                exams.filter(state=State.ORDERED).order_by("created_at", "pk"),
            ),
        )
        lists.insert(
            1,
            (
                "To schedule",
                "Nothing to schedule.",
                exams.filter(state=State.SCREENED).order_by("created_at", "pk"),
            ),
        )
        lists.append(
            (
                "In follow-up",
                "No one in follow-up.",
                exams.filter(state=State.FOLLOW_UP).order_by("updated_at", "pk"),
            )
        )
    if role == Role.TECHNOLOGIST:
        lists.append(
            (
                "In the room",
                "No one in the room.",
                exams.filter(state__in=[State.ARRIVED, State.PREPARED, State.IN_PROGRESS]).order_by(
                    "scheduled_at", "pk"
                ),
            )
        )
    return lists


def home(request):
    role = request.user.role
    if role == Role.ADMIN:
        return redirect("accounts:list")
    if role == Role.PATIENT:
        return portal_views.landing(request)
    # Each list is a card paged on its own (?list1=2 ...), so paging one keeps the others.
    card = paging.PER_CARD
    lists = [
        (
            title,
            empty,
            *page_of(request, rows, card, param=f"list{n}", bounded=True),
            f"list{n}",
        )
        for n, (title, empty, rows) in enumerate(_lists(request.user), start=1)
    ]
    context: dict = {"lists": lists}
    if role in (Role.NURSE, Role.RADIOLOGIST):
        context["triage_alerts"] = page_of(request, open_alerts(), card, param="alerts")
    if role in (Role.NURSE, Role.RADIOLOGIST, Role.TECHNOLOGIST):
        today = timezone.localdate()
        tubes, keep = page_of(
            request, tubes_due(today).order_by("exchange_due_on", "pk"), card, param="tubes"
        )
        context["tubes_due"] = (tubes, keep, [(t, t.due_state(today)) for t in tubes])
    record(Actor.of(request), "dashboard.read", detail={"role": role})
    return render(request, "front/home.html", context)
