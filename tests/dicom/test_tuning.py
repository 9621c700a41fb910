"""The listener's shortcuts through pynetdicom and pydicom (patches/, the header read in
storage.py) give exactly what the libraries' own code gives."""

import io
import logging

import pytest
from pydicom import dcmread
from pydicom.filewriter import dcmwrite, write_file_meta_info
from pydicom.uid import ImplicitVRLittleEndian
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION
from pynetdicom import dimse_messages as messages
from pynetdicom.dimse_primitives import C_ECHO, C_FIND, C_STORE, N_CREATE
from pynetdicom.dsutils import create_file_meta, decode, encode

from nephro.dicom import patches, samples, storage
from nephro.dicom.patches import commands, responses

pytestmark = pytest.mark.dicom

RF = "1.2.840.10008.5.1.4.1.1.12.2"
MWL = "1.2.840.10008.5.1.4.31"


@pytest.fixture(autouse=True)
def tuned():
    # As the listener runs: pynetdicom's log quiet, so its debug handlers are unbound.
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    patches.apply(list(patches.PATCHES))


def _store_response(status=0x0000, **extra) -> C_STORE:
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = 7
    primitive.AffectedSOPClassUID = RF
    primitive.AffectedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1234567"
    primitive.Status = status
    for name, value in extra.items():
        setattr(primitive, name, value)
    return primitive


def _find_response(status=0xFF00, identifier=b"\x08\x00\x50\x00\x02\x00\x00\x00A1") -> C_FIND:
    primitive = C_FIND()
    primitive.MessageIDBeingRespondedTo = 65535
    primitive.AffectedSOPClassUID = MWL
    primitive.Status = status
    primitive.Identifier = None if identifier is None else io.BytesIO(identifier)
    return primitive


def _echo_response() -> C_ECHO:
    primitive = C_ECHO()
    primitive.MessageIDBeingRespondedTo = 1
    primitive.AffectedSOPClassUID = "1.2.840.10008.1.1"
    primitive.Status = 0
    return primitive


def _pynetdicom_pdvs(primitive, message_class, max_pdu=0) -> list[bytes]:
    message = message_class()
    message.primitive_to_message(primitive)
    return [
        pdv
        for pdata in message.encode_msg(1, max_pdu)
        for _, pdv in pdata.presentation_data_value_list
    ]


@pytest.mark.parametrize(
    "primitive, message_class",
    [
        (_store_response(), messages.C_STORE_RSP),
        (_store_response(0xC000), messages.C_STORE_RSP),
        (_find_response(), messages.C_FIND_RSP),
        (_find_response(0x0000, None), messages.C_FIND_RSP),
        (_echo_response(), messages.C_ECHO_RSP),
    ],
)
def test_it_encodes_responses_as_pynetdicom_does(primitive, message_class):
    command, data_set = responses.encode_response(primitive)
    expected = _pynetdicom_pdvs(primitive, message_class)
    assert b"\x03" + command == expected[0]
    assert data_set == (None if len(expected) == 1 else b"".join(p[1:] for p in expected[1:]))


def test_it_leaves_unusual_responses_to_pynetdicom():
    assert responses.encode_response(_store_response(0xC000, ErrorComment="bad")) is None
    request = C_STORE()
    request.MessageID = 1
    assert responses.encode_response(request) is None


class _Provider:
    """Just what _send_msg uses of a DIMSEServiceProvider."""

    def __init__(self, max_pdu):
        self.maximum_pdu_size = max_pdu
        self.sent = []
        self.assoc = self
        self.dul = self

    def get_handlers(self, event):
        return []

    def send_pdu(self, pdata):
        self.sent.append(pdata.presentation_data_value_list)


@pytest.mark.parametrize("max_pdu", [0, 16384, 200, 64])
def test_it_sends_a_response_in_pdvs_that_fit_the_peers_maximum(max_pdu):
    identifier = bytes(range(256)) * 2
    provider = _Provider(max_pdu)
    responses._send_msg(provider, _find_response(identifier=identifier), 1)
    pdvs = [pdv for pdata in provider.sent for _, pdv in pdata]
    command = [pdv for pdv in pdvs if pdv[0] & 1]
    data = [pdv for pdv in pdvs if not pdv[0] & 1]
    expected = _pynetdicom_pdvs(_find_response(identifier=identifier), messages.C_FIND_RSP)
    assert b"".join(p[1:] for p in command) == expected[0][1:]
    assert [p[0] for p in command] == [1] * (len(command) - 1) + [3]
    assert b"".join(p[1:] for p in data) == identifier
    assert [p[0] for p in data] == [0] * (len(data) - 1) + [2]
    assert pdvs == command + data
    for pdata in provider.sent:
        assert max_pdu == 0 or sum(len(pdv) + 5 for _, pdv in pdata) <= max_pdu
    if max_pdu in (0, 16384):
        assert len(provider.sent) == 1  # command and identifier in one P-DATA-TF


def _request(primitive, message_class):
    message = message_class()
    message.primitive_to_message(primitive)
    return encode(message.command_set, True, True)


def _as_primitive(command_set, message_class):
    message = message_class.__new__(message_class)
    message.command_set = command_set
    message.context_id = 1
    message.data_set = None
    message._data_set_path = message._data_set_file = None
    primitive = message.message_to_primitive()
    return {name: getattr(primitive, name) for name in dir(primitive) if name[0].isupper()}


def _store_request() -> C_STORE:
    primitive = C_STORE()
    primitive.MessageID = 5
    primitive.AffectedSOPClassUID = RF
    primitive.AffectedSOPInstanceUID = "1.2.3.45"
    primitive.Priority = 2
    primitive.DataSet = io.BytesIO(b"x")
    primitive.MoveOriginatorApplicationEntityTitle = "MOVER"
    primitive.MoveOriginatorMessageID = 3
    return primitive


def _create_request() -> N_CREATE:
    primitive = N_CREATE()
    primitive.MessageID = 9
    primitive.AffectedSOPClassUID = "1.2.840.10008.3.1.2.3.3"
    primitive.AffectedSOPInstanceUID = "1.2.3"
    primitive.AttributeList = io.BytesIO(b"x")
    return primitive


@pytest.mark.parametrize(
    "primitive, message_class, fast",
    [
        (_store_request(), messages.C_STORE_RQ, True),
        (_store_response(), messages.C_STORE_RSP, True),
        (_find_response(), messages.C_FIND_RSP, True),
        (_create_request(), messages.N_CREATE_RQ, True),
        (_store_response(0xC000, ErrorComment="bad"), messages.C_STORE_RSP, False),
    ],
)
def test_it_decodes_command_sets_as_pydicom_does(primitive, message_class, fast):
    encoded = _request(primitive, message_class)
    ours = commands._decode_command_set(io.BytesIO(encoded), True, True)
    assert isinstance(ours, commands.CommandSet) is fast
    theirs = decode(io.BytesIO(encoded), True, True)
    assert _as_primitive(ours, message_class) == _as_primitive(theirs, message_class)


def test_it_writes_file_meta_as_pydicom_does():
    for sop_class, sop_instance, syntax in [
        (RF, "1.2.3.4.5", "1.2.840.10008.1.2.1"),
        ("1.2.3", "1.22.333", "1.2.840.10008.1.2"),
        (
            "1.2.840.10008.5.1.4.1.1.88.67",
            "1.2.826.0.1.3680043.8.498.1234567",
            "1.2.840.10008.1.2.4.50",
        ),
    ]:
        expected = io.BytesIO()
        meta = create_file_meta(
            sop_class_uid=sop_class, sop_instance_uid=sop_instance, transfer_syntax=syntax
        )
        write_file_meta_info(expected, meta)
        ours = storage.encode_file_meta(
            sop_class,
            sop_instance,
            syntax,
            PYNETDICOM_IMPLEMENTATION_UID,
            PYNETDICOM_IMPLEMENTATION_VERSION,
        )
        assert ours == expected.getvalue()


def _header(path, implicit=False) -> storage.Header:
    ds = dcmread(path)
    out = io.BytesIO()
    del ds.file_meta  # the data set alone, as it travels in a C-STORE
    ds.preamble = None
    dcmwrite(out, ds, implicit_vr=implicit, little_endian=True)
    data = memoryview(out.getvalue())
    syntax = ImplicitVRLittleEndian if implicit else "1.2.840.10008.1.2.1"
    return storage.parse_header(
        data,
        sop_class=ds.SOPClassUID,
        sop_instance=ds.SOPInstanceUID,
        syntax=syntax,
        layout=storage.check_structure(data, syntax),
    )


@pytest.mark.parametrize("implicit", [False, True])
def test_it_reads_names_in_their_character_set(tmp_path, implicit):
    path = tmp_path / "a.dcm"
    samples.image(path, patient_name="Müller^Jörg", patient_id="P1", accession="A1", rows=8, cols=8)
    header = _header(path, implicit)
    assert (header.patient_name, header.patient_id, header.accession_number) == (
        "Müller^Jörg",
        "P1",
        "A1",
    )
    assert (header.rows, header.columns, header.number_of_frames, header.has_pixels) == (
        8,
        8,
        1,
        True,
    )
    ds = dcmread(path)
    ds.SpecificCharacterSet = "ISO_IR 100"  # Latin-1
    ds.PatientName = "Åsa^Öberg"
    ds.SeriesNumber = "7"
    ds.save_as(path, enforce_file_format=True)
    header = _header(path, implicit)
    assert (header.patient_name, header.series_number) == ("Åsa^Öberg", 7)


def test_it_refuses_an_image_whose_pixels_fall_short(tmp_path):
    path = tmp_path / "a.dcm"
    ds = samples.image(path, rows=8, cols=8)
    ds.Rows = 16
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(storage.Rejected, match="pixel data holds"):
        _header(path)
