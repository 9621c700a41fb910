"""The listener audits stored instances per batch (audit_batch.AuditBatch): one dicom.store
event lists the SOP Instance UIDs of an association's instances, written before the
release is answered, on a size bound, on abort, and by the sweep after a crash. Every
acknowledged instance is audited exactly once and its job queued exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydicom import dcmread
from pynetdicom import AE

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.audit.services import verify_chain
from nephro.dicom import audit_batch, ingest, reconcile, samples, scp, storage
from nephro.dicom.models import Instance
from nephro.dicom.sop import RDSR_CLASS
from nephro.exams.lifecycle import State
from nephro.jobs import queue
from tests.dicom.conftest import free_port, storescu

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]


def _images(exam, tmp_path: Path, count: int) -> list[Path]:
    paths = []
    for number in range(count):
        path = tmp_path / f"img{number:03d}.dcm"
        samples.image(
            path,
            rows=16,
            cols=16,
            accession=exam.accession_number if exam else "NOPE",
            study_uid=exam.study_instance_uid if exam else None,
            patient_id=exam.patient.mrn if exam else "UNKNOWN",
            instance_number=number + 1,
        )
        paths.append(path)
    return paths


def _uids(paths: list[Path]) -> set[str]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths}


def _stored_events():
    return AuditEvent.objects.filter(action="dicom.store", outcome="success").order_by("seq")


def _audited_uids() -> list[str]:
    return [uid for event in _stored_events() for uid in event.detail["instances"]]


def test_one_event_per_batch_lists_every_instance_before_the_release_is_answered(
    listener, make_exam, tmp_path, monkeypatch
):
    monkeypatch.setattr(audit_batch.AuditBatch, "MAX_INSTANCES", 4)
    exam = make_exam(State.IN_PROGRESS)
    paths = _images(exam, tmp_path, 10)
    storescu(listener, *paths)
    # storescu has seen the release answered: everything is audited and queued already.
    assert not Instance.objects.filter(audit_pending=True).exists()
    events = list(_stored_events())
    assert [e.detail["count"] for e in events] == [4, 4, 2]
    assert sorted(_audited_uids()) == sorted(_uids(paths))
    for event in events:
        assert event.object_type == "Exam" and event.object_id == str(exam.pk)
        assert event.patient_mrn == exam.patient.mrn
        assert event.username == "dicom:FLUORO1" and event.detail["linked"] is True
        assert event.source_address == "127.0.0.1"
    jobs = queue.jobs(kind="dicom.thumbnail")
    assert sorted(j.payload["instance_id"] for j in jobs) == sorted(
        Instance.objects.values_list("pk", flat=True)
    )
    assert list(verify_chain()) == []


def test_unmatched_instances_are_audited_with_their_study(listener, tmp_path):
    paths = _images(None, tmp_path, 3)
    storescu(listener, *paths)
    (event,) = _stored_events()
    assert event.detail["linked"] is False and event.patient_ref is None
    assert event.detail["studies"] == sorted(
        {str(dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in paths}
    )
    assert sorted(event.detail["instances"]) == sorted(_uids(paths))


def test_an_aborted_association_still_audits_what_it_stored(listener, make_exam, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    paths = _images(exam, tmp_path, 3)
    ae = AE("FLUORO1")
    ae.add_requested_context(samples.RF_CLASS)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5
    assoc = ae.associate("127.0.0.1", listener, ae_title="NEPHRO")
    assert assoc.is_established
    for path in paths:
        assert assoc.send_c_store(dcmread(path)).Status == 0x0000
    assoc.abort()
    deadline = time.monotonic() + 10
    while Instance.objects.filter(audit_pending=True).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(_audited_uids()) == sorted(_uids(paths))


def _index_without_flush(exam, tmp_path: Path, count: int) -> list[Path]:
    """What a listener killed after answering Success but before its flush leaves."""
    batch = audit_batch.AuditBatch("FLUORO1", "127.0.0.1")
    paths = _images(exam, tmp_path, count)
    for path in paths:
        with path.open("rb") as handle:
            temp = tmp_path / (path.name + ".part")
            temp.write_bytes(handle.read())
        meta = dcmread(path, stop_before_pixels=True).file_meta
        ingest.store_file(
            temp,
            sop_class=str(meta.MediaStorageSOPClassUID),
            sop_instance=str(meta.MediaStorageSOPInstanceUID),
            syntax=str(meta.TransferSyntaxUID),
            calling_ae="FLUORO1",
            batch=batch,
        )
    assert len(batch) == count  # the process "dies" here: the batch is lost
    return paths


def test_instances_a_dead_listener_never_audited_are_audited_when_one_starts(
    make_exam, dicom_dirs, tmp_path
):
    exam = make_exam(State.IN_PROGRESS)
    paths = _index_without_flush(exam, tmp_path, 3)
    assert Instance.objects.filter(audit_pending=True).count() == 3
    assert not _stored_events().exists()
    assert not queue.jobs(kind="dicom.thumbnail")
    server = scp.start("127.0.0.1", free_port())
    server.shutdown()
    (event,) = _stored_events()
    assert event.detail["recovered"] is True and event.detail["count"] == 3
    assert sorted(event.detail["instances"]) == sorted(_uids(paths))
    assert len(queue.jobs(kind="dicom.thumbnail")) == 3
    assert not Instance.objects.filter(audit_pending=True).exists()
    # Nothing is audited twice.
    assert audit_batch.audit_orphans() == 0
    assert list(verify_chain()) == []


def test_a_batch_and_the_sweep_never_audit_an_instance_twice(make_exam, dicom_dirs, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    batch = audit_batch.AuditBatch("FLUORO1")
    _index_without_flush(exam, tmp_path, 2)
    pending = list(Instance.objects.filter(audit_pending=True).values_list("pk", flat=True))
    for pk in pending:
        batch.add(pk)
    assert audit_batch.audit_orphans() == 2  # the sweep got there first
    assert batch.flush() == 0  # the association's own flush finds nothing left
    assert len(_audited_uids()) == 2
    assert len(queue.jobs(kind="dicom.thumbnail")) == 2


def test_linking_a_pending_dose_report_queues_its_job_once(make_exam, people, dicom_dirs, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    sr = tmp_path / "sr.dcm"
    samples.dose_report(
        sr,
        fluoro_time_s=10,
        kap_gy_m2=0.0001,
        ka_r_gy=0.1,
        accession="NOPE",
        patient_id=exam.patient.mrn,  # the exam's patient: linked without a confirmation
    )
    meta = dcmread(sr, stop_before_pixels=True)
    temp = tmp_path / "sr.part"
    temp.write_bytes(sr.read_bytes())
    batch = audit_batch.AuditBatch("FLUORO1")
    stored = ingest.store_file(
        temp,
        sop_class=RDSR_CLASS,
        sop_instance=str(meta.SOPInstanceUID),
        syntax=str(meta.file_meta.TransferSyntaxUID),
        calling_ae="FLUORO1",
        batch=batch,
    )
    assert stored.instance.exam_id is None
    reconcile.link(Actor(user=people["tech"]), study_uid=str(meta.StudyInstanceUID), exam=exam)
    assert not queue.jobs(kind="dicom.rdsr")  # the batch will queue it
    assert batch.flush() == 1
    assert len(queue.jobs(kind="dicom.rdsr")) == 1
    (event,) = _stored_events()
    assert event.detail["linked"] is True and event.object_id == str(exam.pk)


def test_an_upload_is_still_audited_per_instance_at_once(make_exam, dicom_dirs, tmp_path):
    exam = make_exam(State.IN_PROGRESS)
    (path,) = _images(exam, tmp_path, 1)
    with path.open("rb") as handle:
        stored = ingest.import_part10(handle, calling_ae="UPLOAD")
    assert not stored.instance.audit_pending
    (event,) = _stored_events()
    assert event.object_type == "Instance" and event.detail["sop"] == (
        stored.instance.sop_instance_uid
    )
    assert len(queue.jobs(kind="dicom.thumbnail")) == 1
    assert storage.absolute(stored.instance.path).exists()
