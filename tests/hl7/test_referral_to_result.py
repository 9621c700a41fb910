"""Must show (issue 17): a referral arrives as ORM^O01 from an independent MLLP client,
appears on the nurse's list and the modality worklist, and once the study is reported an
ORU^R01 and a DiagnosticReport with its Observations come out that both validators accept."""

from datetime import datetime, time

from django.urls import reverse
from django.utils import timezone
from pydicom.dataset import Dataset

from nephro.audit.actor import Actor
from nephro.dicom import mwl
from nephro.exams import services as exams
from nephro.exams.forms import ProcedureForm
from nephro.exams.models import ChecklistItem, Exam
from nephro.hl7.models import OutboundMessage
from nephro.reports import services as reports
from nephro.screening import services as screening
from tests.conftest import findings_form, staff_answers
from tests.fhir.conftest import app_for, fhir, medplum, token_for  # noqa: F401 (fixtures)
from tests.hl7.conftest import medplum_send, orm, strict_errors


def _on_modality_worklist(accession: str) -> bool:
    query = Dataset()
    query.AccessionNumber = accession
    step = Dataset()
    step.Modality = "RF"
    query.ScheduledProcedureStepSequence = [step]
    return [r.AccessionNumber for r in mwl.find(query)] == [accession]


def _perform_and_report(exam: Exam, people) -> None:
    nurse, tech, rad = (Actor(user=people[k]) for k in ("nurse", "tech", "radiologist"))
    exams.check_in(tech, exam.pk, mrn=exam.patient.mrn, birth_date=exam.patient.birth_date)
    for item in ChecklistItem.values:
        exams.tick_checklist(tech, exam.pk, item)
    exams.start(rad, exam.pk)
    done = {"contrast_agent": "Iopamidol 300", "contrast_volume_ml": "12", "views": ["ap"]}
    dose = {"kap_value": "2.1", "kap_unit": "Gy.cm2", "ka_r_value": "15", "ka_r_unit": "mGy"}
    form = ProcedureForm({**done, **dose, "fluoro_time_s": "45"}, instance=exam.procedure)
    assert form.is_valid(), form.errors
    exams.save_procedure(rad, exam.pk, form.values())
    exams.complete(rad, exam.pk)
    reports.save_findings(rad, exam.pk, findings_form())
    reports.sign(rad, exam.pk, final=True)


def test_a_referral_over_mllp_ends_as_a_valid_oru_and_diagnostic_report(
    mllp,
    client,
    people,
    fhir,  # noqa: F811 (the fixture imported above)
    token_for,  # noqa: F811
):
    [ack] = medplum_send(mllp.port, [orm(placer="REF-77", patient_class="I")])
    assert "MSA|AA" in ack
    exam = Exam.objects.get(order__placer__placer_number="REF-77")

    client.force_login(people["nurse"])
    assert exam.accession_number in client.get(reverse("exams:worklist")).content.decode()

    nurse = Actor(user=people["nurse"])
    screening.save_screening(nurse, exam.pk, staff_answers())
    when = timezone.make_aware(datetime.combine(timezone.localdate(), time(11, 0)))
    exams.schedule(nurse, exam.pk, when=when, room="Fluoro 1", ae_title="FLUORO1")
    assert _on_modality_worklist(exam.accession_number)

    exam.refresh_from_db()
    _perform_and_report(exam, people)

    oru = OutboundMessage.objects.get(exam=exam, event="final")
    assert strict_errors(oru.raw) == []
    assert "REF-77^EHR" in oru.raw  # the placer order number is echoed back

    token = token_for(people["radiologist"], "user/*.read")
    url = f"/fhir/DiagnosticReport?based-on={exam.pk}&_include=DiagnosticReport:result"
    bundle = fhir.get(url, token).json()  # checked by Medplum, the bindings and fhirclient
    kinds = sorted({e["resource"]["resourceType"] for e in bundle["entry"]})
    assert kinds == ["DiagnosticReport", "Observation"]
    report = fhir.get(f"/fhir/DiagnosticReport/{exam.report.pk}", token).json()
    assert report["status"] == "final" and len(report["result"]) >= 9
    # PV1-2 "I": the visit the results file against is an inpatient one.
    visit = fhir.get(f"/fhir/Encounter/{exam.pk}", token).json()
    assert visit["class"]["code"] == "IMP"
