"""Styled error pages with a way back, and no internals on a 500."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_styled_with_a_way_home(people, client):
    client.force_login(people["nurse"])
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "We could not find that page" in html and 'href="/"' in html
    assert "nephro.css" in html and 'aria-label="Main"' in html


def test_a_refused_page_says_why_and_links_home(people, client):
    client.force_login(people["nurse"])
    response = client.get(reverse("accounts:list"))
    html = response.content.decode()
    assert response.status_code == 403
    assert "not open to your role" in html and "Nurse" in html and 'href="/"' in html


@override_settings(ROOT_URLCONF="tests.front.urls_boom")
def test_a_server_error_shows_no_internals(people):
    client = Client(raise_request_exception=False)
    client.force_login(people["nurse"])
    response = client.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and 'href="/"' in html
    for leak in ("Traceback", "ZeroDivisionError", "0xDEADBEEF", "boom"):
        assert leak not in html


def test_an_expired_form_is_explained(people):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "nina", "password": "x"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
