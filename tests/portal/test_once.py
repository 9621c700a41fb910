"""Back + send again on the invitation form sends one invitation, not two."""

from uuid import uuid4

import pytest

from nephro.lib.once import MESSAGE
from nephro.portal.models import Invitation
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


def test_an_invitation_form_sent_twice_sends_one_invitation(login, people, mailoutbox):
    patient = make_patient(email="walk@example.org")
    client = login(people["nurse"])
    form = {"email": "walk@example.org", "language": "en", "submission": str(uuid4())}
    first = client.post(f"/invite/new/{patient.pk}/", form)
    again = client.post(f"/invite/new/{patient.pk}/", form, follow=True)
    assert first.status_code == 302 and again.status_code == 200
    assert MESSAGE in again.content.decode()
    # One invitation, still open: the repeat did not revoke it by sending a new link.
    invitation = Invitation.objects.get(patient=patient)
    assert invitation.state() == "open" and len(mailoutbox) == 1


def test_the_form_page_fetched_again_keeps_its_token_and_says_it_was_sent(
    login, people, mailoutbox
):
    patient = make_patient(email="walk@example.org")
    client = login(people["nurse"])
    token = client.get(f"/invite/new/{patient.pk}/").context["form"].initial["submission"]
    client.post(
        f"/invite/new/{patient.pk}/",
        {"email": "walk@example.org", "language": "en", "submission": str(token)},
    )
    back = client.get(f"/invite/new/{patient.pk}/")
    assert back.context["form"].initial["submission"] == token
    assert "You already sent this form" in back.content.decode()
    fresh = client.get(f"/invite/new/{patient.pk}/?again={token}")
    assert fresh.context["form"].initial["submission"] != token


def test_a_new_token_sends_a_new_invitation_that_replaces_the_first(login, people, mailoutbox):
    patient = make_patient(email="walk@example.org")
    client = login(people["nurse"])
    for _ in range(2):
        form = {"email": "walk@example.org", "language": "en", "submission": str(uuid4())}
        assert client.post(f"/invite/new/{patient.pk}/", form).status_code == 302
    states = sorted(i.state() for i in Invitation.objects.filter(patient=patient))
    assert states == ["open", "revoked"] and len(mailoutbox) == 2


def test_a_bad_e_mail_address_is_refused_with_a_message_and_consumes_nothing(
    login, people, mailoutbox
):
    patient = make_patient(email="walk@example.org")
    client = login(people["nurse"])
    token = str(uuid4())
    bad = client.post(
        f"/invite/new/{patient.pk}/",
        {"email": "not-an-address", "language": "en", "submission": token},
    )
    assert bad.status_code == 400 and "Enter a valid email address" in bad.content.decode()
    good = client.post(
        f"/invite/new/{patient.pk}/",
        {"email": "walk@example.org", "language": "en", "submission": token},
    )
    assert good.status_code == 302 and Invitation.objects.filter(patient=patient).count() == 1
