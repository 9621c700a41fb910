from dataclasses import asdict

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from nephro.audit.actor import Actor
from nephro.exams.services import WorkflowError
from nephro.exams.views import get_exam
from nephro.lib import once
from nephro.lib.steps import form_step
from nephro.reports import services
from nephro.reports.forms import AddendumForm, DispositionForm, FindingsForm, ReportTextForm
from nephro.reports.models import Addendum, Findings, Report
from nephro.reports.pdf import report_pdf
from nephro.reports.services import ReportText


def findings(request, pk: int):
    exam = get_exam(request, pk)
    report = Report.objects.filter(exam=exam).first()
    if request.method == "GET" and report is not None and report.is_final:
        messages.info(request, "The report is final; changes are added as addenda.")
        return redirect("reports:view", pk=pk)
    instance = Findings.objects.filter(exam=exam).first() or Findings(exam=exam)
    form = FindingsForm(request.POST or None, instance=instance)
    if report is not None and report.is_final and not form.is_valid():
        # The final report is the first thing to say, before any field's complaint.
        form.add_error(None, "Not saved: the report is final; add an addendum instead.")
    return form_step(
        request,
        form,
        lambda data: services.save_findings(Actor.of(request), exam.pk, data),
        success="Findings saved; the report text was generated from them.",
        done=reverse("reports:edit", args=[pk]),
        template="reports/findings.html",
        context={"exam": exam},
    )


def edit(request, pk: int):
    exam = get_exam(request, pk)
    report = Report.objects.filter(exam=exam).first()
    if report is None:
        messages.info(request, "Record the structured findings first.")
        return redirect("reports:findings", pk=pk)
    if report.is_final:
        messages.info(request, "The report is final; changes are added as addenda.")
        return redirect("reports:view", pk=pk)
    form = ReportTextForm(request.POST or None, initial=asdict(ReportText.of(report)))
    if request.method == "POST" and form.is_valid():
        try:
            services.save_report_text(Actor.of(request), exam.pk, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, f"Not saved: {exc}.")
        else:
            messages.success(request, "Report text saved.")
            return redirect("reports:edit", pk=pk)
    return _editor(request, exam, report, form)


def _editor(request, exam, report, form):
    context = {"exam": exam, "report": report, "form": form}
    return render(request, "reports/edit.html", context, status=400 if form.errors else 200)


@require_POST
def sign(request, pk: int):
    """Sign the text the form carries (the text on the signer's screen); final asks for a
    confirmation that shows exactly that text first."""
    exam = get_exam(request, pk)
    report = Report.objects.filter(exam=exam).first()
    if report is None:
        messages.info(request, "Record the structured findings first.")
        return redirect("reports:findings", pk=pk)
    final = request.POST.get("final") == "1"
    form = ReportTextForm(request.POST)
    if not form.is_valid():
        form.add_error(None, "Not signed: the report text did not come with the request.")
        return _editor(request, exam, report, form)
    text = ReportText(**form.cleaned_data)
    if final and request.POST.get("confirm") != "1":
        context = {"exam": exam, "report": report, "text": text}
        return render(request, "reports/sign_confirm.html", context)
    try:
        services.sign(Actor.of(request), exam.pk, final=final, text=text)
    except WorkflowError as exc:
        form.add_error(None, f"Not signed: {exc}.")
        return _editor(request, exam, report, form)
    messages.success(request, "Report signed as final." if final else "Preliminary report signed.")
    return redirect("reports:view", pk=pk)


def view(request, pk: int):
    exam = get_exam(request, pk, action="report.read")
    report = Report.objects.filter(exam=exam).first()
    if report is None:
        raise Http404("no report yet")
    drawn = once.draw(request, Addendum) if report.is_final else None
    form = AddendumForm(initial={"submission": drawn.token} if drawn else {})
    return _report_page(request, exam, report, form, drawn)


def _report_page(request, exam, report, form, drawn, status: int = 200):
    context = {
        "exam": exam,
        "report": report,
        "addendum_form": form,
        "once": drawn,
        "disposition": getattr(exam, "disposition", None),
    }
    return render(request, "reports/view.html", context, status=status)


def pdf(request, pk: int):
    exam = get_exam(request, pk, action="report.pdf")
    if not Report.objects.filter(exam=exam).exists():
        raise Http404("no report yet")
    response = HttpResponse(report_pdf(exam), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="nephrostogram-{exam.accession_number}.pdf"'
    )
    return response


@require_POST
def addendum(request, pk: int):
    """Bad input shows the report again with the form's message (HTTP 400); a repeated
    submit goes to the addendum the first one added."""
    exam = get_exam(request, pk, action="report.read")
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            services.add_addendum(
                Actor.of(request),
                pk,
                form.cleaned_data["text"],
                submission=form.cleaned_data["submission"],
            )
        except once.AlreadySubmitted as exc:
            return once.show_previous(request, exc.record.get_absolute_url())
        except WorkflowError as exc:
            form.add_error(None, f"Not saved: {exc}.")
        else:
            messages.success(request, "Addendum added.")
            return redirect(reverse("reports:view", args=[pk]) + "#addenda")
    report = Report.objects.filter(exam=exam).first()
    if report is None:
        raise Http404("no report yet")
    return _report_page(request, exam, report, form, None, status=400)


def disposition(request, pk: int):
    exam = get_exam(request, pk)
    return form_step(
        request,
        DispositionForm(request.POST or None),
        lambda data: messages.info(
            request, services.record_disposition(Actor.of(request), exam.pk, **data).summary
        ),
        success="Tube decision recorded.",
        done=reverse("exams:detail", args=[pk]),
        template="reports/disposition.html",
        context={"exam": exam},
    )
