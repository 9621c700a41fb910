"""The listener's health on an admin page (issue 16 item 7)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from nephro.dicom import scp, status
from tests.dicom.conftest import DCMTK_TIMEOUT, dcmtk

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]


def test_the_admin_sees_the_listeners_health(start_listener, people, login):
    port = start_listener()
    for aet in ("FLUORO1", "STRANGER"):
        dcmtk(
            "echoscu",
            *DCMTK_TIMEOUT,
            "-aet",
            aet,
            "-aec",
            "NEPHRO",
            "127.0.0.1",
            str(port),
            check=False,
        )
    status.write(scp.HEALTH)
    page = login(people["admin"]).get(reverse("dicom:health"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Up since" in text and "calling AE &#x27;STRANGER&#x27; is not allowed" in text
    assert "Nothing in quarantine." in text
    assert status.read()["associations"] >= 1 and not status.read()["stale"]


def test_before_the_listener_ever_ran_the_page_says_so(dicom_dirs, people, login):
    page = login(people["admin"]).get(reverse("dicom:health"))
    assert "has not run here yet" in page.content.decode()


def test_only_the_admin_may_open_it(dicom_dirs, people, login):
    assert login(people["radiologist"]).get(reverse("dicom:health")).status_code == 403
