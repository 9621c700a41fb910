import re

import pytest
from django.test import Client

from nephro.audit.actor import Actor
from nephro.portal import services
from tests.conftest import make_patient


@pytest.fixture
def invite(people, mailoutbox):
    """Invite a fresh patient; returns (patient, token from the e-mail)."""

    def send(patient=None, language="en"):
        patient = patient or make_patient(email="new@example.org")
        services.invite_patient(
            Actor(user=people["nurse"]), patient.pk, email=patient.email, language=language
        )
        token = re.search(r"/invite/([\w-]+)/", mailoutbox[-1].body).group(1)
        return patient, token

    return send


@pytest.fixture
def anon():
    return Client()
