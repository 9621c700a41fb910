"""Auditing attempts on records outside the user's scope.

Views fetch through `visible_exams` / `visible_patients`, so a record that exists but is
not the user's answers 404 like a missing one. That 404 alone would leave no trace; this
names the record the URL points at and, when it exists, writes a denied audit event on
its patient. The patient portal records its own (portal.views.patient_view).
"""

from __future__ import annotations

from django.http import Http404

from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.exams.access import visible_exams
from nephro.exams.models import Exam
from nephro.patients.access import visible_patients
from nephro.patients.models import Patient

# URL namespaces whose `pk` is an exam's; `patients:` pages take a patient's `pk`, and
# `patient_pk` is a patient's everywhere.
EXAM_PAGES = frozenset({"exams", "screening", "reports", "drainage", "dicom", "followup"})


def _named(match) -> tuple[type, object] | None:
    kwargs = match.kwargs
    if "patient_pk" in kwargs:
        return Patient, kwargs["patient_pk"]
    if "pk" in kwargs and match.namespace == "patients":
        return Patient, kwargs["pk"]
    if "pk" in kwargs and match.namespace in EXAM_PAGES:
        return Exam, kwargs["pk"]
    return None


def _visible(user, model):
    return visible_patients(user) if model is Patient else visible_exams(user)


class OutOfScopeAudit:
    """Middleware: on a 404 for an existing record the user may not see, audit it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        user = getattr(request, "user", None)
        match = getattr(request, "resolver_match", None)
        if not isinstance(exception, Http404) or match is None or not user.is_authenticated:
            return None
        named = _named(match)
        if named is None:
            return None
        model, pk = named
        target = model.objects.filter(pk=pk).first()
        if target is None or _visible(user, model).filter(pk=pk).exists():
            return None
        record(
            Actor.of(request),
            "access.out_of_scope",
            target,
            outcome=Outcome.DENIED,
            detail={"view": match.view_name},
        )
        return None
