"""The MLLP listener over a real socket, driven by Medplum's independent MLLP client."""

import socket

import hl7

from nephro.exams.models import Order
from nephro.hl7.models import InboundMessage
from tests.hl7.conftest import medplum_send, orm


def _code(ack: str) -> str:
    return str(hl7.parse(ack.replace("\n", "\r")).segment("MSA")(1))


def test_it_acknowledges_orders_sent_by_an_independent_client(mllp):
    acks = medplum_send(mllp.port, [orm(), orm(control_id="MSG2", placer="PL2")])
    assert [_code(a) for a in acks] == ["AA", "AA"]
    assert Order.objects.count() == 2 and InboundMessage.objects.count() == 2


def test_a_bad_connection_never_takes_the_listener_down(mllp):
    with socket.create_connection(("127.0.0.1", mllp.port), timeout=10) as sock:
        sock.sendall(b"no MLLP framing at all\r\n")
    with socket.create_connection(("127.0.0.1", mllp.port), timeout=10) as sock:
        sock.sendall(b"\x0bnot hl7\x1c\r")
        assert b"MSA|AR" in sock.recv(4096)
    assert [_code(a) for a in medplum_send(mllp.port, [orm()])] == ["AA"]
