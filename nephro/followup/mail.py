"""Plain-text e-mail through Django's e-mail backend (console in demo mode, locmem in tests)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation


def send(to: list[str], subject, template: str, context: dict, language: str | None = None) -> int:
    """Render and send one message; `subject` may be lazy, so it is translated here."""
    to = [address for address in to if address]
    if not to:
        return 0
    with translation.override(language or settings.LANGUAGE_CODE):
        body = render_to_string(template, {"site": settings.NEPHRO_SITE_URL, **context})
        return send_mail(str(subject), body, settings.DEFAULT_FROM_EMAIL, to)
