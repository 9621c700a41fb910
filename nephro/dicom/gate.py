"""Socket hygiene: what a connection may do before and after it is an association.

pynetdicom reads each accepted connection with no timeout, counts connections that never
asked for an association against ``maximum_associations``, and reads a PDU of whatever
length its header announces; 11 silent connections locked the modality out. The
listener's server (``GuardedServer``) therefore hands pynetdicom a ``GuardedSocket``:

- every read has a deadline: the association request must arrive within the ACSE
  timeout of connecting, and each PDU within the network timeout of its header;
- PDU lengths are checked as the header arrives: a P-DATA-TF over the maximum PDU
  length we announce (or any other PDU over ``OTHER_PDU_MAX``) is answered with an
  A-ABORT and the connection closed, before anything is read into memory;
- message sizes are counted as the P-DATA arrives (meter.py): a data set passing its cap
  (``NEPHRO_DICOM_MAX_FILE_BYTES`` for a C-STORE) is aborted the same way, there and
  then, not after the whole file was written;
- connections not yet associated are capped in all and per peer address: a new one over
  a cap closes the oldest waiting one, so a flood cannot keep a modality out;
- ``handle_requested`` (EVT_REQUESTED) rejects a calling AE not allowed from its peer
  address, a wrong called AE title, and associations over the maximum (counting only
  real associations).

Only public pynetdicom API is used (``AE.make_server`` with a server class, the
server's ``get_request``/``shutdown_request``, ``ACSE.send_reject``), so this holds on
any pynetdicom 3.0, with or without the speed patches.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, NoReturn

from pynetdicom import AE
from pynetdicom.dul import DULServiceProvider
from pynetdicom.transport import ThreadedAssociationServer

from nephro.dicom import peers
from nephro.dicom.meter import MessageTooLong, Meter
from nephro.dicom.status import Health

log = logging.getLogger("nephro.dicom")

P_DATA_TF = 0x04
OTHER_PDU_MAX = 1 << 20  # an A-ASSOCIATE-RQ with every context we know is ~30 KiB
# A-ABORT, source service provider (2), reason invalid PDU parameter value (6): PS3.8 9.3.8
ABORT_INVALID_PDU = bytes([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 6])
# A-ASSOCIATE-RJ (result, source, reason): PS3.8 9.3.4
REJECT_CALLING_AE = (0x01, 0x01, 0x03)
REJECT_CALLED_AE = (0x01, 0x01, 0x07)
REJECT_LIMIT = (0x02, 0x03, 0x02)  # transient, local limit exceeded


@dataclass(frozen=True)
class Limits:
    acse_timeout: float
    network_timeout: float
    max_pdu: int
    max_associations: int
    max_pending: int
    max_pending_per_peer: int
    max_file_bytes: int  # a C-STORE data set, counted as it arrives (meter.py)


class PduTooLong(ConnectionAbortedError):
    pass


class GuardedSocket(socket.socket):
    """An accepted connection that enforces deadlines and PDU lengths as bytes arrive."""

    def guard(self, gate: Gate, peer: str) -> None:
        self.gate, self.peer = gate, peer
        self.accepted_at = time.monotonic()
        self.associated = False
        self._head = bytearray()  # the current PDU header, while it arrives
        self._left = 0  # bytes of the current PDU body still to come
        self._pdu_deadline: float | None = None
        self._kind = 0  # the current PDU's type
        self.meter = Meter(gate.limits.max_file_bytes)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._arm()
        data = super().recv(bufsize, flags)
        self._track(data)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        received = super().recv_into(buffer, nbytes, flags)
        with memoryview(buffer) as view:
            self._track(view[:received])
        return received

    def close(self) -> None:
        gate = getattr(self, "gate", None)
        if gate is not None:
            gate.forget(self)
        super().close()

    def _arm(self) -> None:
        """Set this read's timeout to what is left of the connection's deadlines."""
        limits, now = self.gate.limits, time.monotonic()
        left = limits.network_timeout
        if not self.associated:
            left = min(left, self.accepted_at + limits.acse_timeout - now)
        if self._pdu_deadline is not None:
            left = min(left, self._pdu_deadline - now)
        if left <= 0:
            raise TimeoutError("the peer took too long")
        self.settimeout(left)

    def _track(self, data: bytes | memoryview) -> None:
        position, end = 0, len(data)
        while position < end:
            if self._left:
                taken = min(self._left, end - position)
                if self._kind == P_DATA_TF:
                    try:
                        self.meter.feed(data[position : position + taken])
                    except MessageTooLong as exc:
                        self._abort(f"{exc} from {self.peer}", exc)
                self._left -= taken
                position += taken
                if not self._left:
                    self._pdu_deadline = None
                continue
            piece = data[position : position + 6 - len(self._head)]
            self._head += piece
            position += len(piece)
            if len(self._head) == 6:
                self._header(self._head[0], int.from_bytes(self._head[2:6], "big"))
                self._head.clear()

    def _header(self, kind: int, length: int) -> None:
        limit = self.gate.limits.max_pdu if kind == P_DATA_TF else OTHER_PDU_MAX
        if length > limit:
            why = f"PDU of {length} bytes from {self.peer} (type {kind}, limit {limit})"
            self._abort(why, PduTooLong(why))
        self._kind, self._left = kind, length
        self.meter.new_pdu()
        if length:
            self._pdu_deadline = time.monotonic() + self.gate.limits.network_timeout

    def _abort(self, why: str, exc: ConnectionAbortedError) -> NoReturn:
        """Tell the peer (A-ABORT) and end the connection: raised into pynetdicom's read,
        which then ends the association as for a lost connection."""
        self.gate.health.refused(why)
        log.warning("aborting a connection: %s", why)
        with contextlib.suppress(OSError):
            super().send(ABORT_INVALID_PDU)
        raise exc


class Gate:
    """The listener's connections: waiting ones capped, associations counted."""

    def __init__(self, limits: Limits, allowed: dict, ae_title: str, health: Health):
        self.limits, self.allowed, self.ae_title = limits, allowed, ae_title
        self.health = health
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[GuardedSocket, None] = {}  # oldest first
        self._associated: set[GuardedSocket] = set()

    def admit(self, sock: GuardedSocket) -> None:
        with self._lock:
            self._prune()
            self._pending[sock] = None
            evict = self._over_caps(sock.peer)
            self.health.pending = len(self._pending)
        for old in evict:
            self.health.refused(f"waiting connection from {old.peer} closed: too many waiting")
            with contextlib.suppress(OSError):
                old.shutdown(socket.SHUT_RDWR)

    def _over_caps(self, peer: str) -> list[GuardedSocket]:
        evict = []
        same_peer = [s for s in self._pending if s.peer == peer]
        if len(same_peer) > self.limits.max_pending_per_peer:
            evict.append(same_peer[0])
        elif len(self._pending) > self.limits.max_pending:
            evict.append(next(iter(self._pending)))
        for old in evict:
            del self._pending[old]
        return evict

    def _prune(self) -> None:
        for sock in [s for s in self._pending if s.fileno() == -1]:
            del self._pending[sock]
        self._associated = {s for s in self._associated if s.fileno() != -1}

    def reserve(self, sock: GuardedSocket, title: str, called: str) -> tuple | None:
        """Take an association slot for this connection, or say why it is rejected."""
        if not peers.permits(self.allowed, title, sock.peer):
            return REJECT_CALLING_AE, f"calling AE {title!r} is not allowed from {sock.peer}"
        if called != self.ae_title:
            return REJECT_CALLED_AE, f"called AE {called!r} is not {self.ae_title!r}"
        with self._lock:
            self._prune()
            if len(self._associated) >= self.limits.max_associations:
                return REJECT_LIMIT, f"{len(self._associated)} associations already"
            self._pending.pop(sock, None)
            self._associated.add(sock)
            sock.associated = True
            self.health.pending = len(self._pending)
            self.health.active = len(self._associated)
        return None

    def forget(self, sock: GuardedSocket) -> None:
        with self._lock:
            self._pending.pop(sock, None)
            self._associated.discard(sock)
            self.health.pending = len(self._pending)
            self.health.active = len(self._associated)


class GuardedServer(ThreadedAssociationServer):
    """pynetdicom's threaded server, handing out GuardedSockets (see the module)."""

    gate: Gate
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        guarded = GuardedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        guarded.guard(self.gate, str(address[0]))
        self.gate.admit(guarded)
        return guarded, address

    def shutdown(self) -> None:
        self.gate.stopped.set()
        super().shutdown()

    def shutdown_request(self, request: Any) -> None:
        self.gate.forget(request)
        super().shutdown_request(request)


def handle_requested(event: Any) -> None:
    """EVT_REQUESTED: reject the association here if our rules say so."""
    assoc = event.assoc
    sock = assoc.dul.socket.socket
    gate = getattr(sock, "gate", None)
    if gate is None:  # not one of our connections
        return
    request = assoc.requestor.primitive  # the A-ASSOCIATE-RQ, not negotiated yet
    title = str(request.calling_ae_title).strip()
    called = str(request.called_ae_title).strip()
    verdict = gate.reserve(sock, title, called)
    if verdict is None:
        gate.health.accepted()
        return
    (result, source, reason), why = verdict
    gate.health.refused(why)
    log.warning("association from %s at %s rejected: %s", title, sock.peer, why)
    assoc.acse.send_reject(result, source, reason)
    assoc.kill()  # as pynetdicom's own rejection: wait until the reject has gone out


def guard_reactor() -> None:
    """Abort an association whose message breaks pynetdicom's state machine.

    pynetdicom 3.0.4 catches errors while reading a PDU, but not while acting on it: a
    P-DATA-TF whose command set lacks Command Field killed the DUL thread with an
    AttributeError (found by bench/fuzz_dicom.py), leaving the association to its
    timeouts. Wrapped here (any pynetdicom 3.0, after the speed patches): the peer gets
    an A-ABORT, as pynetdicom does for its own reading errors. Idempotent."""
    current = DULServiceProvider.run_reactor
    if getattr(current, "guarded", False):
        return

    def run_reactor(provider: DULServiceProvider) -> None:
        try:
            current(provider)
        except Exception as exc:
            sock = getattr(provider.socket, "socket", None)
            peer = getattr(sock, "peer", "?")
            log.warning(
                "aborting an association from %s: its message broke pynetdicom (%r)", peer, exc
            )
            guard = getattr(sock, "gate", None)
            if guard is not None:
                guard.health.refused(f"message from {peer} aborted: {exc!r}"[:200])
            with contextlib.suppress(Exception):
                provider.socket.send(ABORT_INVALID_PDU)  # type: ignore[union-attr]
            provider.assoc.is_aborted, provider.assoc.is_established = True, False
            provider.assoc._kill = True
            provider._kill_thread = True
            with contextlib.suppress(Exception):
                provider.socket.close()  # type: ignore[union-attr]

    run_reactor.guarded = True  # type: ignore[attr-defined]
    DULServiceProvider.run_reactor = run_reactor  # type: ignore[method-assign, assignment]


def serve(ae: AE, address: tuple[str, int], handlers: list, gate: Gate) -> GuardedServer:
    """Start ``ae``'s server on ``address`` in a background thread (as AE.start_server
    with block=False does), its connections guarded by ``gate``."""
    server = ae.make_server(address, evt_handlers=handlers, server_class=GuardedServer)
    assert isinstance(server, GuardedServer)
    server.gate = gate
    thread = threading.Thread(target=server.serve_forever, name="dicom-acceptor", daemon=True)
    thread.start()
    ae._servers.append(server)  # (server.shutdown() removes it from there)
    return server
