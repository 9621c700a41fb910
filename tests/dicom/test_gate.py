"""Socket hygiene (issue 16 item 1): a hostile network cannot keep the modality out."""

from __future__ import annotations

import socket
import tracemalloc

import pytest
from pynetdicom import AE

from nephro.dicom import gate, peers, samples
from nephro.dicom.patches import recv
from tests.dicom.conftest import echoscu, storescu

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    return sock


def _pdu_header(kind: int, length: int) -> bytes:
    return bytes([kind, 0]) + length.to_bytes(4, "big")


def _answer(sock: socket.socket) -> bytes:
    """Everything the listener sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_fluoro1_stores_while_100_idle_and_20_oversized_connections_are_open(
    start_listener, tmp_path
):
    port = start_listener()
    idle = [_connect(port) for _ in range(100)]
    oversized = []
    for index in range(20):
        sock = _connect(port)
        kind = 0x01 if index % 2 else 0x04  # an association request, or data
        sock.sendall(_pdu_header(kind, 64 << 20))
        oversized.append(sock)
    image = tmp_path / "x.dcm"
    samples.image(image, rows=64, cols=64)
    try:
        storescu(port, image)  # succeeds while they are all still open on our side
        for sock in oversized:
            assert _answer(sock)[:1] == b"\x07"  # A-ABORT, then closed
    finally:
        for sock in idle + oversized:
            sock.close()


def test_a_pdu_over_our_maximum_is_aborted(start_listener):
    port = start_listener(NEPHRO_DICOM_MAX_PDU=16384)
    sock = _connect(port)
    sock.sendall(_pdu_header(0x04, 16385))
    assert _answer(sock) == gate.ABORT_INVALID_PDU
    sock.close()
    assert echoscu(port).returncode == 0


def test_a_connection_that_never_asks_is_closed_after_the_acse_timeout(start_listener):
    port = start_listener(NEPHRO_DICOM_ACSE_TIMEOUT=1)
    silent, trickling = _connect(port), _connect(port)
    trickling.sendall(b"\x01\x00\x00")  # half a header, then nothing
    assert _answer(silent) == b""
    assert _answer(trickling) == b""


def test_an_ae_listed_with_an_address_is_only_let_in_from_there(start_listener):
    port = start_listener(NEPHRO_DICOM_ALLOWED_AES=["FLUORO1@10.9.9.9"])
    refused = echoscu(port)
    assert refused.returncode != 0 and "Rejected" in refused.stderr + refused.stdout


def test_an_ae_listed_with_a_network_is_let_in_from_it(start_listener):
    port = start_listener(NEPHRO_DICOM_ALLOWED_AES=["FLUORO1@10.9.9.9", "FLUORO1@127.0.0.0/8"])
    assert echoscu(port).returncode == 0


def test_the_called_ae_title_is_checked(start_listener):
    port = start_listener()
    refused = echoscu(port, aec="SOMEONE")
    assert refused.returncode != 0 and "Rejected" in refused.stderr + refused.stdout
    assert echoscu(port).returncode == 0


def test_only_associations_count_against_the_maximum(start_listener):
    port = start_listener(NEPHRO_DICOM_MAX_ASSOCIATIONS=1)
    waiting = [_connect(port) for _ in range(5)]  # not associations: they do not count
    assert echoscu(port).returncode == 0
    ae = AE("FLUORO1")
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", port, ae_title="NEPHRO")
    assert assoc.is_established
    assert echoscu(port).returncode != 0  # the one association is taken
    assoc.release()
    assert echoscu(port).returncode == 0
    for sock in waiting:
        sock.close()


class _TrickleSocket:
    """Announces nothing itself: hands out ``data`` once, then the connection ends."""

    def __init__(self, data: bytes):
        self.data = data

    def recv_into(self, view, size: int) -> int:
        chunk, self.data = self.data[:size], self.data[size:]
        view[: len(chunk)] = chunk
        return len(chunk)


class _Holder:
    def __init__(self, data: bytes):
        self.socket = _TrickleSocket(data)


def test_receiving_allocates_for_the_data_that_came_not_for_the_length_announced():
    tracemalloc.start()
    try:
        received = recv._recv_exactly(_Holder(b"x" * 100), 64 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == b"x" * 100
    assert peak < 1 << 20
    assert recv._recv_exactly(_Holder(b"y" * 300_000), 300_000) == b"y" * 300_000


@pytest.mark.parametrize(
    "entries",
    [["FLUORO1@not-an-address"], ["A" * 17], ["BAD\\AE"], ["@10.0.0.1"]],
)
def test_a_bad_allow_list_is_refused(entries):
    with pytest.raises(peers.BadAllowList):
        peers.parse(entries)


def test_the_allow_list_reads_titles_and_addresses():
    allowed = peers.parse(["FLUORO1@10.1.2.3", "FLUORO1@10.1.3.0/24", "CR2"])
    assert peers.permits(allowed, "FLUORO1", "10.1.2.3")
    assert peers.permits(allowed, "FLUORO1", "10.1.3.77")
    assert not peers.permits(allowed, "FLUORO1", "10.1.2.4")
    assert peers.permits(allowed, "CR2", "192.168.0.1")
    assert not peers.permits(allowed, "OTHER", "10.1.2.3")
