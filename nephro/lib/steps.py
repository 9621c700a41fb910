"""The one shape of a form step: validate, call one service, redirect with a message; or
show the form again, with the service's refusal, as HTTP 400. Nothing is stored twice."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


class Refused(Exception):
    """A request a service refuses, with a message fit to show the user (the base of
    WorkflowError, IllegalTransition, TubeError...)."""


def form_step(
    request: HttpRequest,
    form: Form,
    act: Callable[[dict], object],
    *,
    success: str,
    done: str,
    template: str,
    context: dict,
    refused: tuple[type[Exception], ...] = (Refused,),
    prefix: str = "Not saved",
) -> HttpResponse:
    """`act(cleaned_data)` runs once on a valid POST; `done` is the URL to go to after."""
    if request.method == "POST" and form.is_valid():
        try:
            act(form.cleaned_data)
        except refused as exc:
            form.add_error(None, f"{prefix}: {exc}.")
        else:
            messages.success(request, success)
            return redirect(done)
    status = 400 if form.errors else 200
    return render(request, template, {**context, "form": form}, status=status)
