"""The administrator's jobs page: failed jobs queued again, waiting ones cancelled."""

import pytest
from django.urls import reverse

from nephro.audit.models import AuditEvent
from nephro.jobs import queue
from tests.jobs.conftest import view

pytestmark = pytest.mark.django_db
URL = "/jobs/"


@pytest.fixture
def admin(client, people):
    client.force_login(people["admin"])
    return client


def test_the_url_is_the_jobs_page():
    assert reverse("jobs:list") == URL


def test_it_lists_failed_jobs_with_their_error_and_waiting_ones(admin, handlers):
    queue.enqueue("test.bad", exam=3)
    queue.run_pending(["test.bad"])
    queue.enqueue("test.ok", delay_s=600, n=1)
    page = admin.get(URL).content.decode()
    assert "test.bad" in page and "cannot ever work" in page
    assert "test.ok" in page and "No failed jobs" not in page


def test_retry_queues_a_failed_job_again_and_is_audited(admin, handlers):
    job_id = queue.enqueue("test.bad")
    queue.run_pending(["test.bad"])
    response = admin.post(URL, {"job": job_id, "action": "retry"})
    assert response.status_code == 302
    assert view(job_id).state == "queued"
    event = AuditEvent.objects.get(action="job.retry")
    assert event.username == "adam" and event.detail == {"job": job_id}


def test_cancel_stops_a_waiting_job(admin, handlers):
    job_id = queue.enqueue("test.ok", delay_s=600)
    assert admin.post(URL, {"job": job_id, "action": "cancel"}).status_code == 302
    assert view(job_id).state == "cancelled"
    assert AuditEvent.objects.filter(action="job.cancel").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"job": "x", "action": "retry"}, "Choose a job from the list."),
        ({"action": "retry"}, "Choose a job from the list."),
        ({"job": "1", "action": "explode"}, "Unknown action"),
        ({"job": "999999", "action": "retry"}, "is not a failed job"),
        ({"job": "999999", "action": "cancel"}, "is not a waiting job"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(admin, handlers, data, message):
    waiting = queue.enqueue("test.ok", delay_s=600)
    response = admin.post(URL, data)
    assert response.status_code == 400 and message in response.content.decode()
    assert view(waiting).state == "queued"
    assert not AuditEvent.objects.filter(action__startswith="job.").exists()


@pytest.mark.parametrize("role", ["referrer", "nurse", "tech", "radiologist", "patient"])
def test_only_the_administrator_may_see_it(client, people, role):
    client.force_login(people[role])
    assert client.get(URL).status_code == 403


def test_each_list_pages_with_its_count_and_says_what_a_job_does(admin, handlers, monkeypatch):
    from nephro.lib import paging

    monkeypatch.setattr(paging, "PER_PAGE", 2)
    for n in range(3):
        queue.enqueue("test.ok", delay_s=600, n=n)
    queue.enqueue("test.bad")
    queue.run_pending(["test.bad"])
    page = admin.get(URL).content.decode()
    assert "3 waiting jobs · page 1 of 2" in page and "1 failed job" in page
    assert "?waiting=2#waiting" in page
    assert "Run the drainage analysis" not in page  # only kinds listed are described
    assert queue.describe("drainage.analyze") == "Run the drainage analysis on an exam's images."
    second = admin.get(URL, {"waiting": 2}).content.decode()
    assert "3 waiting jobs · page 2 of 2" in second and "1 failed job" in second
