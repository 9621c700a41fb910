"""Every staff list shows its total count and pages, and page links keep the filters
and the other lists' pages (nephro.lib.paging). Two rows a page here, so three rows
make a second page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams.lifecycle import State
from nephro.followup.models import Alert, CheckIn
from nephro.lib import paging
from nephro.screening.models import Screening, Source
from nephro.tubes.models import CappingTrial, TrialOutcome, Tube, TubeStatus
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def two_a_page(monkeypatch):
    monkeypatch.setattr(paging, "PER_PAGE", 2)
    monkeypatch.setattr(paging, "PER_CARD", 2)


def links(html: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'href="(\?[^"]*)"', html)]


def paged(client, url: str, count: str, param: str = "page", **query) -> tuple[str, str]:
    """Page 1 and page 2 of one list; checks the count and that the link keeps `query`."""
    first = client.get(url, query).content.decode()
    assert count in first, count
    nexts = [link for link in links(first) if f"{param}=2" in link]
    assert nexts, f"no link to page 2 of {param}"
    for key, value in query.items():
        assert f"{key}={value}" in nexts[0], (nexts[0], key)
    second = client.get(url + nexts[0].split("#")[0])
    assert second.status_code == 200
    return first, second.content.decode()


def make_tubes(n: int, *, due_in_days: int, status=TubeStatus.IN_PLACE) -> list[Tube]:
    today = timezone.localdate()
    return [
        Tube.objects.create(
            patient=make_patient(),
            side="left",
            size_fr=10,
            placed_on=today - timedelta(days=30),
            status=status,
            exchange_due_on=today + timedelta(days=due_in_days + i),
        )
        for i in range(n)
    ]


def test_the_tube_registry_pages_and_counts(people, login):
    tubes = make_tubes(3, due_in_days=40)
    make_tubes(1, due_in_days=40, status=TubeStatus.REMOVED)  # not in the registry
    first, second = paged(login(people["nurse"]), "/tubes/", "3 tubes")
    assert "page 1 of 2" in first and tubes[2].patient.mrn not in first
    assert "page 2 of 2" in second and tubes[2].patient.mrn in second


def test_the_due_lists_page_each_on_their_own(people, login):
    overdue = make_tubes(3, due_in_days=-10)
    soon = make_tubes(3, due_in_days=1)
    client = login(people["nurse"])
    first, second = paged(client, "/tubes/due/", "3 tubes overdue", "overdue", soon=2)
    assert "3 tubes due soon" in first
    assert overdue[2].patient.mrn in second and soon[2].patient.mrn in second
    assert overdue[0].patient.mrn not in second and soon[0].patient.mrn not in second


def test_the_trials_lists_page_each_on_their_own(people, login):
    today = timezone.localdate()
    for tube in make_tubes(3, due_in_days=40, status=TubeStatus.CAPPED):
        CappingTrial.objects.create(tube=tube, started_on=today, planned_end_on=today)
    for i, tube in enumerate(make_tubes(3, due_in_days=40)):
        CappingTrial.objects.create(
            tube=tube,
            started_on=today - timedelta(days=9),
            planned_end_on=today - timedelta(days=2),
            ended_on=today - timedelta(days=i),
            outcome=TrialOutcome.PASSED,
        )
    client = login(people["nurse"])
    first, _ = paged(client, "/tubes/trials/", "3 trials under way", "ongoing", closed=2)
    assert "3 closed trials" in first
    paged(client, "/tubes/trials/", "3 tubes in place", "start", ongoing=2)
    _, second = paged(client, "/tubes/trials/", "3 closed trials", "closed", start=2)
    assert second.count("Passed (tolerated)") == 1


def test_the_triage_lists_page_each_on_their_own(people, login, make_exam):
    exam = make_exam(State.FOLLOW_UP)
    now = timezone.now()
    for i in range(3):
        answered = CheckIn.objects.create(exam=exam, answered_at=now, symptoms=["pain"])
        Alert.objects.create(checkin=answered, exam=exam, urgency="contact", raised_at=now)
        done = CheckIn.objects.create(exam=exam, answered_at=now, symptoms=["rash"])
        Alert.objects.create(
            checkin=done,
            exam=exam,
            urgency="contact",
            raised_at=now,
            acknowledged_at=now - timedelta(minutes=i),
            acknowledged_by=people["nurse"],
            action="called",
        )
        CheckIn.objects.create(exam=exam, due_at=now - timedelta(hours=1))
        Screening.objects.create(exam=make_exam(State.ORDERED), source=Source.PATIENT)
    client = login(people["nurse"])
    first, second = paged(client, "/followup/", "3 open alerts", "page", done=2)
    assert "3 acknowledged alerts" in first and "3 check-ins waiting" in first
    assert "3 questionnaires" in first and "page 2 of 2" in second
    paged(client, "/followup/", "3 questionnaires", "review", page=2)
    paged(client, "/followup/", "3 check-ins waiting", "waiting", review=2)
    paged(client, "/followup/", "3 acknowledged alerts", "done", waiting=2)


def open_alerts(exam, count: int) -> None:
    for _ in range(count):
        checkin = CheckIn.objects.create(exam=exam, answered_at=timezone.now(), symptoms=["pain"])
        Alert.objects.create(
            checkin=checkin, exam=exam, urgency="contact", raised_at=timezone.now()
        )


def test_the_polled_open_alerts_stay_on_the_page_being_read(people, login, make_exam):
    open_alerts(make_exam(State.FOLLOW_UP), 3)
    client = login(people["nurse"])
    page = client.get("/followup/", {"page": 2, "done": 1}).content.decode()
    assert 'hx-get="/followup/alerts/?page=2&amp;done=1"' in page
    polled = client.get("/followup/alerts/", {"page": 2, "done": 1}).content.decode()
    assert "page 2 of 2" in polled and "done=1&amp;page=1" in polled


def test_the_accounts_list_pages_and_counts(people, login):
    first, second = paged(login(people["admin"]), "/accounts/", "8 accounts")
    assert "page 1 of 4" in first and "page 2 of 4" in second


def test_the_audit_trail_pages_and_keeps_its_filter(people, login):
    for _ in range(3):
        record(Actor(user=people["nurse"]), "exam.read")
    record(Actor(user=people["tech"]), "exam.read")
    first, second = paged(login(people["radiologist"]), "/audit/", "3 events", user="nina")
    assert "<td>tom</td>" not in first + second


def test_the_dashboard_lists_page_each_on_their_own(people, login, make_exam):
    exams = [make_exam(State.ORDERED) for _ in range(3)]
    client = login(people["nurse"])
    first, second = paged(client, "/", "3 exams", "list1", list3=1)
    assert exams[2].accession_number not in first and exams[2].accession_number in second


def test_the_dashboard_counts_every_open_alert_and_due_tube(people, login, make_exam):
    open_alerts(make_exam(State.FOLLOW_UP), 3)
    make_tubes(3, due_in_days=-3)
    client = login(people["nurse"])
    paged(client, "/", "3 open alerts", "alerts", tubes=1)
    paged(client, "/", "3 tubes", "tubes", alerts=1)


def test_a_count_of_one_reads_in_the_singular(people, login):
    make_tubes(1, due_in_days=40)
    html = login(people["nurse"]).get("/tubes/").content.decode()
    assert ">1 tube</p>" in html


def test_the_worklist_beyond_the_bound_says_more_than_and_pages_to_the_end(
    people, login, make_exam, monkeypatch
):
    """A million exams are not counted on every page: past COUNT_UP_TO (3 here) the
    page says "more than", never a wrong exact number, and Next still leads to the end."""
    monkeypatch.setattr(paging, "COUNT_UP_TO", 3)
    exams = [make_exam(State.SCHEDULED) for _ in range(5)]
    client = login(people["nurse"])
    first, second = paged(client, "/exams/", "more than 3 exams · page 1", state="scheduled")
    assert "page 1 of" not in first  # the number of pages is not known either
    assert "more than 4 exams · page 2" in second and "page=3" in second and "page=1" in second
    last = client.get("/exams/", {"state": "scheduled", "page": 3}).content.decode()
    assert "5 exams · page 3 of 3" in last and exams[4].accession_number in last
    assert "page=4" not in last


def test_a_dashboard_list_beyond_the_bound_says_more_than(people, login, make_exam, monkeypatch):
    monkeypatch.setattr(paging, "COUNT_UP_TO", 3)
    for _ in range(5):
        make_exam(State.ORDERED)
    html = login(people["nurse"]).get("/").content.decode()
    assert '<span class="count">more than 3</span>' in html
    assert "more than 3 exams · page 1" in html


def test_the_patient_list_and_the_audit_trail_beyond_the_bound_say_more_than(
    people, login, monkeypatch
):
    """Both grow without end (700,000 patients, 10,000,000 events at a group's size)."""
    monkeypatch.setattr(paging, "COUNT_UP_TO", 2)
    for _ in range(4):
        make_patient()
        record(Actor(user=people["nurse"]), "exam.read")
    paged(login(people["nurse"]), "/patients/", "more than 2 patients · page 1")
    _, second = paged(login(people["admin"]), "/audit/", "more than 2 events · page 1")
    assert "more than 4 events · page 2" in second
