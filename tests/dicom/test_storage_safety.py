"""Conflict-safe storage (issue 16 item 4): header values checked before anything is
written, the proper failure status for each kind of bad data, nothing left in the store,
and one SOP Instance UID never indexed over another's content."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import pytest
from django.conf import settings
from pydicom import dcmread
from pynetdicom import AE, _config

from nephro.dicom import samples
from nephro.dicom.models import Instance, Quarantined
from tests.dicom.conftest import stored_files

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]

INVALID, CONFLICT, OVER_LIMIT, CANNOT_UNDERSTAND = 0xA900, 0xA910, 0xA920, 0xC000


def _image(path: Path, **changes) -> Path:
    ds = samples.image(path, rows=16, cols=16, frames=2, accession="A1", patient_id="P1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid values we write
        for keyword, value in changes.items():
            setattr(ds, keyword, value)
        ds.save_as(path, enforce_file_format=True)
    # (pydicom strips a trailing newline from a UID: put it in the bytes ourselves)
    path.write_bytes(path.read_bytes().replace(b"1.2.3.45", b"1.2.3.4\n"))
    return path


class Sender:
    """One association from FLUORO1 sending files as they are (no re-encoding)."""

    def __init__(self, port: int):
        ae = AE("FLUORO1")
        ae.add_requested_context(samples.RF_CLASS, "1.2.840.10008.1.2.1")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        self.assoc = ae.associate("127.0.0.1", port, ae_title="NEPHRO")
        assert self.assoc.is_established

    def send(self, path: Path) -> int:
        _config.STORE_SEND_CHUNKED_DATASET = True
        try:
            return self.assoc.send_c_store(str(path)).Status
        finally:
            _config.STORE_SEND_CHUNKED_DATASET = False

    def close(self) -> None:
        self.assoc.release()


BAD_VALUES = [
    ("frames -1", {"NumberOfFrames": "-1"}, INVALID),
    ("frames 0", {"NumberOfFrames": "0"}, INVALID),
    ("20-digit instance number", {"InstanceNumber": "12345678901234567890"}, INVALID),
    ("instance number not a number", {"InstanceNumber": "1.5"}, INVALID),
    ("study UID of 65 characters", {"StudyInstanceUID": "1." + "2" * 63}, INVALID),
    ("study UID with a trailing newline", {"StudyInstanceUID": "1.2.3.45"}, INVALID),
    ("series UID with a space", {"SeriesInstanceUID": "1.2.3 4"}, INVALID),
    ("bits allocated 12", {"BitsAllocated": 12}, INVALID),
    ("samples per pixel 2", {"SamplesPerPixel": 2}, INVALID),
]


@pytest.mark.parametrize("name, changes, status", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_header_values_are_refused_with_a_failure_status_and_leave_nothing(
    start_listener, tmp_path, name, changes, status
):
    port = start_listener()
    sender = Sender(port)
    answered = sender.send(_image(tmp_path / "bad.dcm", **changes))
    good = sender.send(_image(tmp_path / "good.dcm"))
    sender.close()
    assert (answered, good) == (status, 0)
    assert Instance.objects.count() == 1
    assert len(stored_files(Path(settings.NEPHRO_DICOM_DIR))) == 1
    assert list((Path(settings.NEPHRO_DICOM_DIR) / ".incoming").iterdir()) == []


@pytest.mark.parametrize(
    "limit, value",
    [
        ("NEPHRO_DICOM_MAX_FRAME_PIXELS", 16 * 16 - 1),
        ("NEPHRO_DICOM_MAX_PIXELS", 16 * 16 * 2 - 1),
    ],
)
def test_instances_over_the_limits_are_refused(start_listener, tmp_path, limit, value):
    port = start_listener(**{limit: value})
    sender = Sender(port)
    assert sender.send(_image(tmp_path / "big.dcm")) == OVER_LIMIT
    sender.close()
    assert not Instance.objects.exists()
    assert stored_files(Path(settings.NEPHRO_DICOM_DIR)) == []


def test_a_file_over_the_byte_limit_is_refused_once_in_or_aborted_as_it_arrives(
    start_listener, tmp_path
):
    path = _image(tmp_path / "big.dcm")
    whole = path.read_bytes()
    data_set = len(whole) - 144 - int.from_bytes(whole[140:144], "little")
    # The data set fits the limit, the file with its meta header does not: refused.
    sender = Sender(start_listener(NEPHRO_DICOM_MAX_FILE_BYTES=data_set))
    assert sender.send(path) == OVER_LIMIT
    sender.close()
    # The data set itself passes the limit: aborted while it arrives (meter.py).
    sender = Sender(start_listener(NEPHRO_DICOM_MAX_FILE_BYTES=data_set - 1))
    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        assert "Status" not in sender.assoc.send_c_store(str(path))
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = False
    # The requestor's association notices the closed connection on its own thread.
    sender.assoc.join(timeout=10)
    assert sender.assoc.is_aborted or not sender.assoc.is_established
    assert not Instance.objects.exists()
    assert stored_files(Path(settings.NEPHRO_DICOM_DIR)) == []


def test_a_compressed_image_declaring_a_huge_frame_is_refused(start_listener, tmp_path):
    # 2 MB of JPEG claiming 8192 x 8192: each thumbnail would decode 1.4 GB.
    port = start_listener()
    path = tmp_path / "huge.dcm"
    ds = samples.image(path, rows=16, cols=16)
    ds.Rows = ds.Columns = 8192
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.50"
    from pydicom.encaps import encapsulate

    ds.PixelData = encapsulate([b"\xff\xd8" + b"\0" * 2_000_000 + b"\xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    ae = AE("FLUORO1")
    ae.add_requested_context(samples.RF_CLASS, "1.2.840.10008.1.2.4.50")
    assoc = ae.associate("127.0.0.1", port, ae_title="NEPHRO")
    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        assert assoc.send_c_store(str(path)).Status == OVER_LIMIT
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = False
        assoc.release()
    assert not Instance.objects.exists()


def test_the_same_uid_with_other_content_is_refused_and_quarantined(start_listener, tmp_path):
    port = start_listener()
    first = _image(tmp_path / "first.dcm", PatientName="First^Patient")
    uid = dcmread(first).SOPInstanceUID
    second = _image(tmp_path / "second.dcm", SOPInstanceUID=uid, PatientName="Other^Patient")
    second_ds = dcmread(second)
    second_ds.file_meta.MediaStorageSOPInstanceUID = uid
    second_ds.save_as(second, enforce_file_format=True)
    sender = Sender(port)
    statuses = [sender.send(first), sender.send(second), sender.send(first)]
    sender.close()
    assert statuses == [0, CONFLICT, 0]  # the re-sent first one is a harmless duplicate
    instance = Instance.objects.get()
    assert instance.patient_name == "First^Patient"
    on_disk = dcmread(Path(settings.NEPHRO_DICOM_DIR) / instance.path)
    assert on_disk.PatientName == "First^Patient"
    kept = Quarantined.objects.get()
    assert kept.sop_instance_uid == uid and kept.calling_ae == "FLUORO1"
    assert dcmread(Path(settings.NEPHRO_DICOM_DIR) / kept.path).PatientName == "Other^Patient"


def _send_together(barrier, statuses: dict, index: int, path: Path, sender: Sender) -> None:
    barrier.wait()
    statuses[index] = sender.send(path)


def test_two_simultaneous_senders_of_one_uid_end_with_one_consistent_instance(
    start_listener, tmp_path
):
    port = start_listener()
    root = Path(settings.NEPHRO_DICOM_DIR)
    for run in range(40):
        a = _image(tmp_path / f"a{run}.dcm", PatientName="Alpha^Ann")
        uid = dcmread(a).SOPInstanceUID
        b = tmp_path / f"b{run}.dcm"
        ds = dcmread(a)
        ds.PatientName, ds.PatientID = "Beta^Bob", "P2"
        ds.save_as(b, enforce_file_format=True)
        senders = [Sender(port), Sender(port)]
        barrier, statuses = threading.Barrier(2), {}
        threads = [
            threading.Thread(target=_send_together, args=(barrier, statuses, i, path, sender))
            for i, (path, sender) in enumerate(zip((a, b), senders, strict=True))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for sender in senders:
            sender.close()
        assert sorted(statuses.values()) == [0, CONFLICT], run
        instance = Instance.objects.get(sop_instance_uid=uid)
        on_disk = dcmread(root / instance.path)
        assert str(on_disk.PatientName) == instance.patient_name, run
        assert on_disk.PatientID == instance.patient_id, run
        assert Quarantined.objects.filter(sop_instance_uid=uid).count() == 1, run
