"""The main menu: each role sees the pages it may open, and no others."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def menu(client) -> list[str]:
    page = client.get(reverse("home"), follow=True).content.decode()
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert nav is not None
    return re.findall(r'href="([^"]+)"', nav.group(1))


def test_it_links_the_listener_health_and_failed_jobs_for_the_administrator(people, login):
    links = menu(login(people["admin"]))
    assert reverse("dicom:health") in links
    assert reverse("jobs:list") in links


@pytest.mark.parametrize("who", ["referrer", "nurse", "tech", "radiologist", "patient"])
def test_it_hides_them_from_every_other_role(people, login, who):
    links = menu(login(people[who]))
    assert reverse("dicom:health") not in links
    assert reverse("jobs:list") not in links
