"""The listener over real TCP on loopback, driven by Debian's dcmtk (and, for MPPS,
which dcmtk has no client for, by pynetdicom's SCU on a real association)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE

from nephro.audit.models import AuditEvent
from nephro.dicom import samples
from nephro.dicom.models import Instance
from nephro.exams.lifecycle import State
from nephro.exams.models import Procedure
from nephro.jobs.queue import run_pending
from tests.dicom.conftest import DCMTK_TIMEOUT, dcmtk, storescu

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]


def test_it_answers_echo(listener):
    result = dcmtk(
        "echoscu", *DCMTK_TIMEOUT, "-aet", "FLUORO1", "-aec", "NEPHRO", "127.0.0.1", str(listener)
    )
    assert result.returncode == 0


def test_it_refuses_an_unknown_ae_title(listener, tmp_path):
    result = dcmtk(
        "echoscu", *DCMTK_TIMEOUT, "-aet", "STRANGER", "127.0.0.1", str(listener), check=False
    )
    assert result.returncode != 0
    assert "Rejected" in result.stdout + result.stderr
    path = tmp_path / "x.dcm"
    samples.image(path, rows=16, cols=16)
    assert storescu(listener, path, aet="STRANGER", check=False).returncode != 0
    assert not Instance.objects.exists()


def _worklist_query(tmp_path: Path, **keys) -> Path:
    query = samples.worklist_query(**keys)
    path = tmp_path / "query.dcm"
    query.save_as(path, implicit_vr=False, little_endian=True)
    return path


def _findscu(port, query, out_dir):
    out_dir.mkdir(exist_ok=True)
    dcmtk(
        "findscu",
        *DCMTK_TIMEOUT,
        "-W",
        "-aet",
        "FLUORO1",
        "-aec",
        "NEPHRO",
        "-X",
        "-od",
        str(out_dir),
        "127.0.0.1",
        str(port),
        str(query),
    )
    return [dcmread(p) for p in sorted(out_dir.glob("*.dcm"))]


def test_it_lists_a_scheduled_exam_on_the_worklist(listener, make_exam, tmp_path):
    exam = make_exam(
        State.SCHEDULED,
        screening_answers={
            "prior_contrast_reaction": "on",
            "reaction_agent": "Iohexol",
            "reaction_description": "hives",
            "reaction_timing": "2019",
            "other_allergies": "Penicillin",
        },
    )
    make_exam(State.SCREENED)  # not scheduled: not on the worklist
    today = exam.scheduled_at.strftime("%Y%m%d")
    query = _worklist_query(
        tmp_path,
        Modality="RF",
        ScheduledStationAETitle="FLUORO1",
        ScheduledProcedureStepStartDate=f"{today}-{today}",
    )
    [answer] = _findscu(listener, query, tmp_path / "out")
    patient = exam.patient
    assert answer.PatientName == f"{patient.family_name}^{patient.given_name}"
    assert answer.PatientID == patient.mrn
    assert answer.PatientBirthDate == patient.birth_date.strftime("%Y%m%d")
    assert answer.PatientSex == patient.sex
    assert answer.AccessionNumber == exam.accession_number
    assert answer.StudyInstanceUID == exam.study_instance_uid
    assert answer.RequestedProcedureID == f"RP{exam.pk}"
    assert "Nephrostogram" in answer.RequestedProcedureDescription
    allergies = "\\".join(answer.Allergies)
    assert "Iohexol" in allergies and "Penicillin" in allergies
    assert answer.PregnancyStatus == 1
    assert answer.RequestedContrastAgent
    step = answer.ScheduledProcedureStepSequence[0]
    assert step.Modality == "RF"
    assert step.ScheduledStationAETitle == "FLUORO1"
    assert step.ScheduledProcedureStepStartDate == today
    assert step.ScheduledProcedureStepStartTime.startswith("1000")
    assert step.ScheduledProcedureStepID == f"SPS{exam.pk}"
    assert "Nephrostogram" in step.ScheduledProcedureStepDescription
    assert "ScheduledPerformingPhysicianName" in step
    assert AuditEvent.objects.filter(action="dicom.worklist", username="dicom:FLUORO1").exists()

    other_day = _worklist_query(tmp_path, ScheduledProcedureStepStartDate="20000101")
    assert _findscu(listener, other_day, tmp_path / "none") == []
    by_name = _worklist_query(tmp_path, PatientName=patient.family_name[:4].lower() + "*")
    assert [a.AccessionNumber for a in _findscu(listener, by_name, tmp_path / "n")] == [
        exam.accession_number
    ]


def _exam_files(exam, tmp_path: Path, frames: int = 20) -> tuple[Path, Path]:
    run = tmp_path / "run.dcm"
    samples.image(
        run,
        frames=frames,
        rows=256,
        cols=256,
        accession=exam.accession_number,
        study_uid=exam.study_instance_uid,
        patient_id=exam.patient.mrn,
    )
    sr = tmp_path / "sr.dcm"
    samples.dose_report(
        sr,
        fluoro_time_s=95,
        kap_gy_m2=0.00042,
        ka_r_gy=3.2,
        accession=exam.accession_number,
        study_uid=exam.study_instance_uid,
        patient_id=exam.patient.mrn,
    )
    return run, sr


def test_it_stores_a_run_and_a_dose_report_on_the_exam(listener, make_exam, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    run, sr = _exam_files(exam, tmp_path)
    storescu(listener, run, sr)
    images = Instance.objects.filter(exam=exam)
    assert images.count() == 2
    stored = images.get(modality="RF")
    assert stored.number_of_frames == 20 and stored.rows == 256
    path = Path(stored.path)
    assert path.parts[0] == exam.study_instance_uid and path.name.endswith(".dcm")
    on_disk = dcmread(Path(__import__("django.conf").conf.settings.NEPHRO_DICOM_DIR) / path)
    assert on_disk.PixelData == dcmread(run).PixelData
    # The heavy work waits for the worker.
    assert Procedure.objects.get(exam=exam).dose_source == "manual"
    assert run_pending(["dicom.thumbnail", "dicom.rdsr"]) == 2
    procedure = Procedure.objects.get(exam=exam)
    assert procedure.dose_source == "rdsr"
    assert procedure.fluoro_time_s == Decimal("95.0")
    assert procedure.kap_gy_cm2 == Decimal("4.2000")  # 0.00042 Gy.m2
    assert procedure.ka_r_mgy == Decimal("3200.00")  # 3.2 Gy: passes the 3 Gy notice
    stored.refresh_from_db()
    assert len(stored.sha256) == 64 and stored.thumbnail
    dose_event = AuditEvent.objects.get(action="procedure.dose")
    assert dose_event.detail["dose_flags"] == ["DOSE_NOTICE"]
    assert dose_event.username == "dicom:FLUORO1"


def test_a_resent_instance_changes_nothing(listener, make_exam, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    run, sr = _exam_files(exam, tmp_path, frames=3)
    storescu(listener, run, sr)
    events = AuditEvent.objects.count()
    before = {i.path: i.received_at for i in Instance.objects.all()}
    storescu(listener, run, sr)
    assert {i.path: i.received_at for i in Instance.objects.all()} == before
    assert AuditEvent.objects.count() == events


def test_a_conflicting_instance_with_a_known_uid_is_refused(listener, make_exam, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    run, _ = _exam_files(exam, tmp_path, frames=2)
    storescu(listener, run)
    ds = dcmread(run)
    ds.SeriesDescription = "changed"
    ds.save_as(run)
    result = storescu(listener, run, check=False)
    assert "0xc000" in (result.stdout + result.stderr).lower() or result.returncode != 0
    assert Instance.objects.get().series_description == ""


def test_unmatched_images_wait_for_reconciliation(listener, tmp_path):
    path = tmp_path / "x.dcm"
    samples.image(path, rows=32, cols=32, accession="NOPE", patient_id="UNKNOWN")
    storescu(listener, path)
    instance = Instance.objects.get()
    assert instance.exam is None
    assert "no exam" in instance.unmatched_reason


@pytest.mark.parametrize(
    "tool,options,propose,syntax",
    [
        ("dcmcrle", [], "-xr", "1.2.840.10008.1.2.5"),
        ("dcmcjpeg", ["+e1"], "-xs", "1.2.840.10008.1.2.4.70"),
        ("dcmcjpeg", ["+eb"], "-xy", "1.2.840.10008.1.2.4.50"),
    ],
)
def test_it_stores_compressed_images(listener, make_exam, tmp_path, tool, options, propose, syntax):
    exam = make_exam(State.IN_PROGRESS)
    plain = tmp_path / "plain.dcm"
    bits = 8 if "+eb" in options else 12
    samples.image(
        plain,
        frames=4,
        rows=128,
        cols=128,
        bits=bits,
        accession=exam.accession_number,
        patient_id=exam.patient.mrn,
    )
    packed = tmp_path / "packed.dcm"
    dcmtk(tool, *options, str(plain), str(packed))
    storescu(listener, packed, extra=[propose])  # the file's own syntax, not decompressed
    instance = Instance.objects.get(exam=exam)
    assert instance.transfer_syntax_uid == syntax
    assert run_pending(["dicom.thumbnail"]) == 1
    instance.refresh_from_db()
    assert instance.thumbnail


def test_truncated_and_garbage_files_are_refused_cleanly(listener, make_exam, tmp_path, caplog):
    exam = make_exam(State.IN_PROGRESS)
    good = tmp_path / "good.dcm"
    samples.image(good, frames=4, rows=128, cols=128, accession=exam.accession_number)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(data[: len(data) - 5000])
    garbage = tmp_path / "garbage.dcm"
    header_end = data.index(b"\x08\x00\x05\x00")  # meta intact, data set replaced
    garbage.write_bytes(data[:header_end] + b"\xde\xad\xbe\xef" * 4000)
    # dcmtk's storescu itself refuses to send broken files ...
    for path in (truncated, garbage):
        assert storescu(listener, path, check=False).returncode != 0
    # ... so send the same bytes raw through pynetdicom, which does not look at them.
    ae = AE("FLUORO1")
    ae.add_requested_context(samples.RF_CLASS, "1.2.840.10008.1.2.1")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
    from pynetdicom import _config

    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        assoc = ae.associate("127.0.0.1", listener, ae_title="NEPHRO")
        assert assoc.is_established
        statuses = [assoc.send_c_store(str(p)).Status for p in (truncated, garbage)]
        assert assoc.send_c_store(str(good)).Status == 0
        assoc.release()
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = False
    assert statuses == [0xC000, 0xC000]
    assert Instance.objects.count() == 1  # only the good one
    incoming = Path(__import__("django.conf").conf.settings.NEPHRO_DICOM_DIR) / ".incoming"
    assert list(incoming.glob("*")) == []
    assert "refused" in caplog.text
    assert AuditEvent.objects.filter(action="dicom.store", outcome="failed").count() == 2


def _mpps_ae():
    ae = AE("FLUORO1")
    ae.add_requested_context("1.2.840.10008.3.1.2.3.3")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
    return ae


def _pps(exam, status: str) -> Dataset:
    ds = Dataset()
    ds.PatientID = exam.patient.mrn
    ds.PatientName = exam.patient.dicom_name
    step = Dataset()
    step.AccessionNumber = exam.accession_number
    step.StudyInstanceUID = exam.study_instance_uid
    step.ScheduledProcedureStepID = f"SPS{exam.pk}"
    ds.ScheduledStepAttributesSequence = [step]
    ds.PerformedProcedureStepID = "PPS1"
    ds.PerformedStationAETitle = "FLUORO1"
    ds.PerformedProcedureStepStartDate = "20250101"
    ds.PerformedProcedureStepStartTime = "100000"
    ds.PerformedProcedureStepStatus = status
    ds.Modality = "RF"
    return ds


def test_mpps_moves_the_exam_and_records_dose_and_contrast(listener, make_exam):
    exam = make_exam(State.PREPARED)
    ae = _mpps_ae()
    assoc = ae.associate("127.0.0.1", listener, ae_title="NEPHRO")
    assert assoc.is_established
    status, _ = assoc.send_n_create(
        _pps(exam, "IN PROGRESS"), "1.2.840.10008.3.1.2.3.3", "1.2.3.4.5.6"
    )
    assert status.Status == 0
    exam.refresh_from_db()
    assert exam.state == State.IN_PROGRESS
    done = Dataset()
    done.PerformedProcedureStepStatus = "COMPLETED"
    done.PerformedProcedureStepEndDate = "20250101"
    done.PerformedProcedureStepEndTime = "101500"
    done.TotalTimeOfFluoroscopy = 80
    done.ImageAndFluoroscopyAreaDoseProduct = "35.5"  # dGy.cm2
    supply = Dataset()
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "C1", "L", "Iopamidol 300"
    supply.BillingItemSequence = [item]
    quantity = Dataset()
    quantity.Quantity = "12"
    unit = Dataset()
    unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = "ml", "UCUM", "mL"
    quantity.MeasuringUnitsSequence = [unit]
    supply.QuantitySequence = [quantity]
    done.BillingSuppliesAndDevicesSequence = [supply]
    status, _ = assoc.send_n_set(done, "1.2.840.10008.3.1.2.3.3", "1.2.3.4.5.6")
    assert status.Status == 0
    # A completed step is final: a further N-SET is refused.
    status, _ = assoc.send_n_set(done, "1.2.840.10008.3.1.2.3.3", "1.2.3.4.5.6")
    assert status.Status == 0x0110
    assoc.release()
    exam.refresh_from_db()
    assert exam.state == State.COMPLETED
    procedure = exam.procedure
    assert procedure.contrast_agent == "Iopamidol 300"
    assert procedure.contrast_volume_ml == Decimal("12.0")
    assert procedure.fluoro_time_s == Decimal("80.0")
    assert procedure.kap_gy_cm2 == Decimal("3.5500")
    assert procedure.dose_source == "mpps"


def test_mpps_discontinued_records_the_reason(listener, make_exam):
    exam = make_exam(State.PREPARED)
    assoc = _mpps_ae().associate("127.0.0.1", listener, ae_title="NEPHRO")
    assoc.send_n_create(_pps(exam, "IN PROGRESS"), "1.2.840.10008.3.1.2.3.3", "1.2.3.9")
    stop = Dataset()
    stop.PerformedProcedureStepStatus = "DISCONTINUED"
    reason = Dataset()
    reason.CodeValue, reason.CodingSchemeDesignator = "110514", "DCM"
    reason.CodeMeaning = "Incorrect worklist entry selected"
    stop.PerformedProcedureStepDiscontinuationReasonCodeSequence = [reason]
    status, _ = assoc.send_n_set(stop, "1.2.840.10008.3.1.2.3.3", "1.2.3.9")
    assoc.release()
    assert status.Status == 0
    event = AuditEvent.objects.get(action="exam.discontinued")
    assert event.detail["reason"] == "Incorrect worklist entry selected"
    assert exam.performed_steps.get().discontinued_reason == "Incorrect worklist entry selected"


def test_dcmtk_is_installed():
    assert shutil.which("storescu") and shutil.which("findscu") and shutil.which("echoscu")
