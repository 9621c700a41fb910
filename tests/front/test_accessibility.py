"""Every button or button-styled link that repeats on a page names its row for screen
readers, so "Acknowledge" is "Acknowledge alert for <patient>"."""

from collections import Counter
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from nephro.audit.actor import Actor
from nephro.followup import services as followup

pytestmark = pytest.mark.django_db


class AccessibleNames(HTMLParser):
    """The accessible name of each button: its aria-label, else its text (hidden too)."""

    def __init__(self):
        super().__init__()
        self.names: list[str] = []
        self.open: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "button" or (tag == "a" and "button" in classes):
            self.open.append([attrs.get("aria-label") or "", ""])

    def handle_endtag(self, tag):
        if tag in ("button", "a") and self.open:
            label, text = self.open.pop()
            self.names.append(label or " ".join(text.split()))

    def handle_data(self, data):
        for item in self.open:
            item[1] += data


def _repeated(html: str) -> dict[str, int]:
    parser = AccessibleNames()
    parser.feed(html)
    return {name: n for name, n in Counter(parser.names).items() if n > 1}


def _alerts(people, make_exam, count=2):
    for _ in range(count):
        exam = make_exam("completed")
        followup.record_checkin(Actor(user=people["nurse"]), exam.pk, symptoms=["fever"])


def test_the_triage_and_home_rows_name_their_patient(people, make_exam, client):
    _alerts(people, make_exam)
    client.force_login(people["nurse"])
    for url in (reverse("followup:triage"), reverse("home")):
        html = client.get(url).content.decode()
        assert "Acknowledge alert for" in html, url
        assert not _repeated(html), url


def test_the_checklist_and_capping_trials_name_their_row(people, make_exam, client):
    exam = make_exam("arrived")
    make_exam("arrived")
    client.force_login(people["tech"])
    assert not _repeated(client.get(reverse("exams:detail", args=[exam.pk])).content.decode())
    client.force_login(people["nurse"])
    assert not _repeated(client.get(reverse("tubes:trials")).content.decode())


def test_the_flags_to_decide_name_their_flag(people, make_exam, client):
    exam = make_exam("screened", screening_answers={"anticoagulants": ["aspirin", "warfarin"]})
    client.force_login(people["radiologist"])
    assert not _repeated(client.get(reverse("exams:detail", args=[exam.pk])).content.decode())


def test_a_patient_with_two_tests_hears_which_one_each_button_opens(people, make_exam, client):
    patient = make_exam().patient
    make_exam(patient=patient)
    client.force_login(people["patient"])
    assert not _repeated(client.get(reverse("home")).content.decode())
