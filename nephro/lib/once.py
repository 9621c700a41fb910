"""One submit, one record: the one-time token every creating form carries.

A form that creates something carries a hidden `submission` UUID. The record it creates
keeps that UUID in a unique `submission` column, so the token is consumed in the same
transaction as the creation, and the database refuses a second record with it even when
two submits race. Services raise `AlreadySubmitted(record)`; views send the user to what
the first submit created, with a plain message.

Pages with patient data are sent `Cache-Control: no-store`, so Back fetches the form
again. The token is therefore drawn once per form page and session (`draw`): fetched
again, the page gets the same token back, says it was already sent and links to what it
saved; only "Start a new one" draws a fresh token. A submit that fails validation
consumes nothing, so the corrected submit still goes through once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4, uuid5

from django import forms
from django.contrib import messages
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from nephro.lib import steps

MESSAGE = "This form was already submitted, so nothing new was created. Here is what it saved."


class AlreadySubmitted(Exception):
    """The form's token was used before: `record` is what the first submit created."""

    def __init__(self, record: models.Model):
        super().__init__("this form was already submitted; nothing new was created")
        self.record = record


class OnceForm(forms.Form):
    """Adds the hidden one-time token; an unbound form draws a fresh one.

    Every page renders the token, so browsers always send it; a client that sends none
    (a script) is not protected, but not refused either.
    """

    submission = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission", uuid4())


@dataclass(frozen=True)
class Draw:
    """This form page's token, and what an earlier submit of it created, if anything."""

    token: UUID
    earlier: models.Model | None


SESSION_PREFIX = "once:"


def draw(request: HttpRequest, model: type[models.Model]) -> Draw:
    """The token of the form at this URL in this session; a new one only on a first
    visit, or when `?again=` names the current token ("Start a new one")."""
    key = SESSION_PREFIX + request.path
    token = request.session.get(key)
    if token is None or request.GET.get("again") == token:
        token = str(uuid4())
        request.session[key] = token
    return Draw(UUID(token), previous(model, token))


def token_field() -> forms.UUIDField:
    """The same hidden field, for model forms (which cannot inherit OnceForm)."""
    return forms.UUIDField(widget=forms.HiddenInput, initial=uuid4, required=False)


def with_answers(submission: UUID | None, *answers: object) -> UUID | None:
    """The token bound to the answers: the same form sent again with the same answers is
    a repeat; sent with other answers (something new to report), it is not."""
    if submission is None:
        return None
    return uuid5(submission, repr(answers))


def previous(model: type[models.Model], submission: UUID | None) -> models.Model | None:
    """What an earlier submit of this token created, if anything."""
    if submission is None:
        return None
    return model._default_manager.filter(submission=submission).first()


def refuse_repeat(model: type[models.Model], submission: UUID | None) -> None:
    found = previous(model, submission)
    if found is not None:
        raise AlreadySubmitted(found)


@contextmanager
def consume(model: type[models.Model], submission: UUID | None) -> Iterator[None]:
    """Create inside this block; a repeat, even one racing the first, is AlreadySubmitted."""
    refuse_repeat(model, submission)
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        found = previous(model, submission)
        if found is None:
            raise
        raise AlreadySubmitted(found) from None


def show_previous(request: HttpRequest, url: str) -> HttpResponse:
    messages.warning(request, MESSAGE)
    return redirect(url)


def form_step(
    request: HttpRequest,
    form: forms.Form,
    act: Callable[[dict], object],
    *,
    previous_url: Callable[[models.Model], str],
    **kwargs: Any,
) -> HttpResponse:
    """lib.steps.form_step, plus: a repeated submit goes to what the first one created."""
    try:
        return steps.form_step(request, form, act, **kwargs)
    except AlreadySubmitted as exc:
        return show_previous(request, previous_url(exc.record))
