from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from nephro.exams.lifecycle import IllegalTransition
from nephro.exams.services import WorkflowError
from nephro.exams.views import get_exam
from nephro.screening import services
from nephro.screening.forms import DecisionForm, ScreeningForm
from nephro.screening.models import Screening
from nephro.screening.rules import child_bearing_potential


def edit(request, pk: int):
    exam = get_exam(request, pk)
    instance = Screening.objects.filter(exam=exam).first() or Screening(exam=exam)
    form = ScreeningForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_screening(request, exam.pk, form)
        except (WorkflowError, IllegalTransition) as exc:
            form.add_error(None, f"Not saved: {exc}.")
        else:
            messages.success(request, "Screening saved.")
            return redirect("exams:detail", pk=pk)
    context = {
        "form": form,
        "exam": exam,
        "ask_pregnancy": child_bearing_potential(instance, timezone.localdate()),
    }
    return render(request, "screening/edit.html", context, status=400 if form.errors else 200)


def decide(request, pk: int, flag_pk: int):
    exam = get_exam(request, pk)
    flag = get_object_or_404(exam.flags, pk=flag_pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.decide_flag(
                request,
                flag.pk,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
            )
        except WorkflowError as exc:
            form.add_error(None, f"Not saved: {exc}.")
        else:
            messages.success(request, "Decision recorded.")
            return redirect("exams:detail", pk=pk)
    return render(
        request,
        "screening/decide.html",
        {"form": form, "exam": exam, "flag": flag},
        status=400 if form.errors else 200,
    )
