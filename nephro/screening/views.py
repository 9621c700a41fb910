from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.exams.views import get_exam
from nephro.lib.steps import form_step
from nephro.patients.services import known_reaction
from nephro.screening import services
from nephro.screening.forms import DecisionForm, ScreeningForm
from nephro.screening.models import Screening
from nephro.screening.rules import child_bearing_potential


def edit(request, pk: int):
    exam = get_exam(request, pk)
    instance = Screening.objects.filter(exam=exam).first() or Screening(
        exam=exam, **known_reaction(exam.patient)
    )
    form = ScreeningForm(request.POST or None, instance=instance)
    return form_step(
        request,
        form,
        lambda data: services.save_screening(Actor.of(request), exam.pk, form.answers()),
        success="Screening saved.",
        done=reverse("exams:detail", args=[pk]),
        template="screening/edit.html",
        context={
            "exam": exam,
            "ask_pregnancy": child_bearing_potential(instance, timezone.localdate()),
        },
    )


def decide(request, pk: int, flag_pk: int):
    exam = get_exam(request, pk)
    flag = get_object_or_404(exam.flags, pk=flag_pk)
    return form_step(
        request,
        DecisionForm(request.POST or None),
        lambda data: services.decide_flag(
            Actor.of(request), flag.pk, decision=data["decision"], reason=data["reason"]
        ),
        success="Decision recorded.",
        done=reverse("exams:detail", args=[pk]),
        template="screening/decide.html",
        context={"exam": exam, "flag": flag},
    )
