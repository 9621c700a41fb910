"""Accounts in headless Chromium: the one sign-in refusal, and a password reset by
e-mail from the sign-in page to signing in with the new password."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from nephro.accounts.models import User
from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser
NEW = "a-new-passphrase-for-nina"


def test_unknown_and_locked_accounts_get_the_same_message(page, people):
    sign_in(page, "nobody-here", "wrong")
    unknown = page.get_by_role("alert").first.inner_text()
    for _ in range(5):
        sign_in(page, "nina", "wrong")
    sign_in(page, "nina")  # the right password, but locked now
    assert page.get_by_role("alert").first.inner_text() == unknown
    assert page.url.endswith("/login/")
    shot(page, "accounts-locked-or-unknown")


def test_a_forgotten_password_is_reset_by_e_mail(page, people):
    User.objects.filter(username="nina").update(email="nina@example.org")
    page.goto("/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("nina@example.org")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    link = re.search(r"https?://\S+/password/reset/\S+/", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password confirmation").fill(NEW)
    shot(page, "accounts-new-password")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Your new password is saved")).to_be_visible()
    page.get_by_role("link", name="Sign in").last.click()
    sign_in(page, "nina", NEW)
    expect(page.get_by_role("heading", name="To screen")).to_be_visible()
