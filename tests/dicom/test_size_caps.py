"""Size caps hold while receiving (meter.py): a data set passing its cap is aborted as
the P-DATA arrives, with nothing stored and nothing left behind."""

from __future__ import annotations

import random
import re
import struct
import time
from pathlib import Path

import pytest
from django.conf import settings
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind

from nephro.dicom import samples, scp
from nephro.dicom.meter import COMMAND_MAX, SERVICE_MAX, MessageTooLong, Meter, command_field
from nephro.dicom.models import Instance
from tests.dicom.conftest import stored_files

pytestmark = pytest.mark.dicom
C_STORE_RQ, C_FIND_RQ = 0x0001, 0x0020


def _command(field: int) -> bytes:
    """A command set holding just its Command Field (implicit VR little endian)."""
    return struct.pack("<HHIH", 0x0000, 0x0100, 2, field)


def _pdv(data: bytes, *, command: bool, last: bool) -> bytes:
    control = (1 if command else 0) | (2 if last else 0)
    return struct.pack(">I", len(data) + 2) + bytes([1, control]) + data


def _message(field: int, data_set: int, fragment: int = 1000) -> list[bytes]:
    """A message as PDV items: its command set, then its data set in fragments."""
    items = [_pdv(_command(field), command=True, last=True)]
    sizes = [fragment] * (data_set // fragment) + (
        [data_set % fragment] if data_set % fragment else []
    )
    for index, size in enumerate(sizes):
        items.append(_pdv(b"\0" * size, command=False, last=index == len(sizes) - 1))
    return items


def _feed(meter: Meter, items: list[bytes], rng: random.Random | None = None) -> None:
    """Feed PDV items as they could arrive: cut at any point (one PDU per item)."""
    for item in items:
        meter.new_pdu()
        position = 0
        while position < len(item):
            step = rng.randint(1, 700) if rng else len(item)
            meter.feed(memoryview(item)[position : position + step])
            position += step


def test_the_command_field_is_read_from_the_command_set():
    assert command_field(struct.pack("<HHIH", 0, 0x0002, 2, 7) + _command(C_STORE_RQ)) == 1
    assert command_field(b"\0\0") is None
    assert command_field(struct.pack("<HHI", 0, 0x0100, 4) + b"\1\0\0\0") is None


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "cut anywhere"])
def test_a_c_store_data_set_is_refused_as_soon_as_it_passes_the_cap(cut):
    rng = random.Random(16) if cut else None
    _feed(Meter(file_max=10_000), _message(C_STORE_RQ, 10_000), rng)  # at the cap: fine
    meter = Meter(file_max=10_000)
    with pytest.raises(MessageTooLong, match="C-STORE data set over 10000 bytes"):
        _feed(meter, _message(C_STORE_RQ, 10_001), rng)


def test_each_message_is_counted_on_its_own():
    meter = Meter(file_max=10_000)
    _feed(meter, _message(C_STORE_RQ, 9_000) * 5)


def test_other_data_sets_and_command_sets_have_their_own_caps():
    meter = Meter(file_max=1 << 30)
    with pytest.raises(MessageTooLong, match=f"a data set over {SERVICE_MAX} bytes"):
        _feed(meter, _message(C_FIND_RQ, SERVICE_MAX + 1, fragment=1 << 16))
    too_long = _pdv(b"\0" * (COMMAND_MAX + 1), command=True, last=False)
    with pytest.raises(MessageTooLong, match="command set"):
        _feed(Meter(file_max=1 << 30), [too_long])


def _until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _refusal_bytes() -> int:
    """How many bytes of the data set had arrived when the listener aborted it."""
    found = re.search(r"over \d+ bytes \((\d+) received\)", scp.HEALTH.last_refusal)
    assert found, scp.HEALTH.last_refusal
    return int(found.group(1))


def test_a_sender_streaming_past_the_file_cap_is_aborted_with_nothing_stored(
    start_listener, tmp_path
):
    cap, pdu = 256 * 1024, 16384
    port = start_listener(NEPHRO_DICOM_MAX_FILE_BYTES=cap, NEPHRO_DICOM_MAX_PDU=pdu)
    samples.image(tmp_path / "big.dcm", rows=1024, cols=1024, frames=2)  # 4 MiB of pixels
    big = dcmread(tmp_path / "big.dcm")
    ae = AE("FLUORO1")
    ae.add_requested_context(big.SOPClassUID, ExplicitVRLittleEndian)
    ae.maximum_pdu_size = pdu
    assoc = ae.associate("127.0.0.1", port, ae_title="NEPHRO")
    assert assoc.is_established
    answer = assoc.send_c_store(big)
    assert "Status" not in answer  # no answer: the association was aborted
    assert _until(lambda: assoc.is_aborted)
    assert cap < _refusal_bytes() <= cap + pdu  # stopped at the cap, not at 4 MiB
    incoming = Path(settings.NEPHRO_DICOM_DIR) / ".incoming"
    assert _until(lambda: not any(incoming.iterdir())), list(incoming.iterdir())
    assert not Instance.objects.exists() and not stored_files(Path(settings.NEPHRO_DICOM_DIR))
    # The listener carries on: a small image from the same sender is stored.
    samples.image(tmp_path / "small.dcm", rows=64, cols=64)
    small = dcmread(tmp_path / "small.dcm")
    assoc = ae.associate("127.0.0.1", port, ae_title="NEPHRO")
    assert assoc.send_c_store(small).Status == 0x0000
    assoc.release()


@pytest.mark.filterwarnings("ignore:The value length")  # (pydicom: longer than LT allows)
def test_a_worklist_query_over_the_service_cap_is_aborted(start_listener):
    port = start_listener()
    query = Dataset()
    query.PatientName = "*"
    query.PatientComments = "x" * (SERVICE_MAX + 2)  # held in memory by pynetdicom
    ae = AE("FLUORO1")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate("127.0.0.1", port, ae_title="NEPHRO")
    assert assoc.is_established
    answers = list(assoc.send_c_find(query, ModalityWorklistInformationFind))
    assert all("Status" not in status for status, _ in answers)
    assert _until(lambda: assoc.is_aborted)
    assert SERVICE_MAX < _refusal_bytes() <= SERVICE_MAX + settings.NEPHRO_DICOM_MAX_PDU
