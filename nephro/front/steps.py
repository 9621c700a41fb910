"""The one shape of a form step: validate, call one service, redirect with a message; or
show the form again, with the service's refusal, as HTTP 400. Nothing is stored twice."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.shortcuts import redirect, render

from nephro.exams.lifecycle import IllegalTransition
from nephro.exams.services import WorkflowError

REFUSALS: tuple[type[Exception], ...] = (WorkflowError, IllegalTransition)


def form_step(
    request,
    form,
    act: Callable[[dict], object],
    *,
    success: str,
    done: str,
    template: str,
    context: dict,
    refused: tuple[type[Exception], ...] = REFUSALS,
    prefix: str = "Not saved",
):
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
