"""What the listener changes in pynetdicom 3.0 for throughput, and why (docs/dicom.md,
"pynetdicom tuning"). ``tune_pynetdicom()`` applies it process-wide; ``handle_open`` sets
up each association. Every change keeps pynetdicom's behaviour on the wire and for its
callers; anything unusual (TLS, debug logging, an optional response element) goes
through pynetdicom's own code.

pynetdicom builds, encodes and decodes every DIMSE command set and file meta header as a
pydicom data set, formats log lines nobody reads, reads sockets 4 KiB at a time and polls
its two reactor threads with 1 ms sleeps. For a 512x512 image that was more CPU than
checking, writing and indexing the image, and the two threads share one GIL.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import struct
import threading
import time
from typing import NamedTuple

from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset
from pydicom.filewriter import write_file_meta_info
from pynetdicom import (
    PYNETDICOM_IMPLEMENTATION_UID,
    PYNETDICOM_IMPLEMENTATION_VERSION,
    _config,
    association,
    dimse_messages,
    dul,
    evt,
    service_class,
)
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_ECHO, C_FIND, C_STORE
from pynetdicom.dsutils import create_file_meta
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.transport import AssociationSocket

from nephro.dicom import storage

_HEADER = struct.Struct("<HHI")  # an Implicit VR Little Endian element: tag, length

# --- Receiving: whole PDUs, streamed to .incoming/ ----------------------------------------


def _incoming_file(**kwargs):
    kwargs.pop("delete", None)
    return storage.incoming_file(**kwargs)


_FIRST_READ = 64 * 1024


def _recv_exactly(self, nr_bytes: int) -> bytearray:
    """Read a whole PDU with as few system calls as the kernel allows.

    pynetdicom 3.0 reads 4 KiB per recv() call, which caps a listener at a fraction of
    what loopback or a 10 Gb link carries (a 150-frame run is ~20,000 calls). This reads
    straight into one buffer, which grows (doubling) only as data arrives: the length a
    PDU header announces never allocates anything up front (a hostile header announcing
    64 MiB and sending nothing costs 64 KiB; gate.py refuses it before that anyway).
    """
    buffer = bytearray(min(nr_bytes, _FIRST_READ))
    nr_read = 0
    while nr_read < nr_bytes:
        if nr_read == len(buffer):
            buffer.extend(bytes(min(len(buffer), nr_bytes - len(buffer))))
        with memoryview(buffer) as view:
            received = self.socket.recv_into(view[nr_read:], len(buffer) - nr_read)
        if not received:  # connection closed: return what arrived, as pynetdicom does
            del buffer[nr_read:]
            return buffer
        nr_read += received
    return buffer


class _FileMeta(NamedTuple):
    """What pynetdicom's ``create_file_meta`` is asked for while receiving a C-STORE."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    implementation_uid: str
    implementation_version: str


def _create_file_meta(
    *,
    sop_class_uid,
    sop_instance_uid,
    transfer_syntax,
    implementation_uid=PYNETDICOM_IMPLEMENTATION_UID,
    implementation_version=PYNETDICOM_IMPLEMENTATION_VERSION,
) -> _FileMeta:
    return _FileMeta(
        sop_class_uid,
        sop_instance_uid,
        transfer_syntax,
        implementation_uid,
        implementation_version,
    )


def _write_file_meta_info(fp, file_meta, enforce_standard: bool = True) -> None:
    """The file meta header of a received data set, encoded directly (the same bytes as
    pydicom's writer, which took more CPU than checking and indexing a small image)."""
    if isinstance(file_meta, _FileMeta):
        try:
            fp.write(storage.encode_file_meta(*file_meta))
            return
        except ValueError:  # not plain ASCII: let pydicom encode it as before
            file_meta = create_file_meta(**file_meta._asdict())
    write_file_meta_info(fp, file_meta, enforce_standard)


class _CommandElement(NamedTuple):
    tag: int
    keyword: str
    value: object
    VM: int = 1


class CommandSet:
    """A received DIMSE command set, decoded without pydicom (PS3.7 E.1: Implicit VR
    Little Endian, group 0000). It offers what pynetdicom reads of one: each element's
    value as an attribute named by its keyword, and iteration over elements with
    ``tag``, ``keyword``, ``value`` and ``VM``. Only used while pynetdicom's standard log
    handlers are unbound (``LOG_HANDLER_LEVEL`` "none"): they read command sets as
    pydicom Datasets, and so would any other EVT_DIMSE_RECV handler (the listener binds
    none)."""

    __slots__ = ("_elements", "_values")

    def __init__(self, elements: list[_CommandElement]):
        self._elements = elements
        self._values = {element.keyword: element.value for element in elements}

    def __iter__(self):
        return iter(self._elements)

    def __getattr__(self, keyword: str):
        try:
            return self._values[keyword]
        except KeyError:
            raise AttributeError(keyword) from None


# Command elements whose values decode simply (unsigned integers, UIDs, AE titles); a
# command set with any other element (Error Comment, Offending Element, ...) goes
# through pydicom.
_COMMAND_ELEMENTS = {
    tag: (entry[0], entry[4])
    for tag, entry in DicomDictionary.items()
    if tag >> 16 == 0 and entry[0] in ("UL", "US", "UI", "AE")
}
_ORIGINAL_DECODE = dimse_messages.decode


def _decode_command_set(bytestream, is_implicit_vr: bool, is_little_endian: bool, deflated=False):
    if _config.LOG_HANDLER_LEVEL != "none" or not (is_implicit_vr and is_little_endian):
        return _ORIGINAL_DECODE(bytestream, is_implicit_vr, is_little_endian, deflated)
    data = bytestream.getvalue()
    elements, pos = [], 0
    while pos < len(data):
        if pos + 8 > len(data):
            break
        group, number, length = _HEADER.unpack_from(data, pos)
        value = data[pos + 8 : pos + 8 + length]
        pos += 8 + length
        tag = (group << 16) | number
        vr, keyword = _COMMAND_ELEMENTS.get(tag, ("", ""))
        if len(value) != length or b"\\" in value:
            break
        if (vr == "US" and length == 2) or (vr == "UL" and length == 4):
            elements.append(_CommandElement(tag, keyword, int.from_bytes(value, "little")))
        elif vr in ("UI", "AE") and value.isascii():
            text = value.decode("ascii")
            text = text.rstrip("\0 ") if vr == "UI" else text.strip()
            elements.append(_CommandElement(tag, keyword, text))
        else:
            break
    else:
        return CommandSet(elements)
    # Anything unusual (truncated, multi-valued, another element): pydicom decodes it.
    return _ORIGINAL_DECODE(bytestream, is_implicit_vr, is_little_endian, deflated)


# --- Sending responses: command sets encoded directly --------------------------------------

_COMMAND_FIELD = {C_STORE: 0x8001, C_FIND: 0x8020, C_ECHO: 0x8030}
_ENCODED = frozenset(
    {
        "CommandGroupLength",
        "AffectedSOPClassUID",
        "CommandField",
        "MessageIDBeingRespondedTo",
        "CommandDataSetType",
        "Status",
        "AffectedSOPInstanceUID",
    }
)
# Response elements we leave to pynetdicom (ErrorComment, OffendingElement, ...).
_RESPONSE_KEYWORDS = dimse_messages._COMMAND_SET_KEYWORDS
_OTHER_ELEMENTS = {
    kind: tuple(
        keyword
        for keyword in _RESPONSE_KEYWORDS[kind.__name__.replace("_", "-") + "-RSP"]
        if keyword not in _ENCODED
    )
    for kind in _COMMAND_FIELD
}
_US = struct.Struct("<HHIH")
_NO_DATA_SET = 0x0101


def _uid_element(element: int, value: str) -> bytes:
    encoded = value.encode("ascii")  # UnicodeEncodeError is a ValueError
    if len(encoded) % 2:
        encoded += b"\0"
    return _HEADER.pack(0x0000, element, len(encoded)) + encoded


def encode_response(primitive) -> tuple[bytes, bytes | None] | None:
    """(command set, data set or None) of a C-STORE, C-FIND or C-ECHO response, as
    pynetdicom would encode them (Implicit VR Little Endian, PS3.7 6.3.1 and E), or None
    for any other message or one with more than the usual elements."""
    kind = type(primitive)
    field = _COMMAND_FIELD.get(kind)
    if field is None:
        return None
    responding_to, status = primitive.MessageIDBeingRespondedTo, primitive.Status
    if responding_to is None or status is None:
        return None
    if any(getattr(primitive, keyword, None) is not None for keyword in _OTHER_ELEMENTS[kind]):
        return None
    data_set = None
    if kind is C_FIND and primitive.Identifier is not None:
        data_set = primitive.Identifier.getvalue()
        if not data_set:  # (pynetdicom announces a data set it then does not send)
            return None
    try:
        parts = []
        if primitive.AffectedSOPClassUID:
            parts.append(_uid_element(0x0002, primitive.AffectedSOPClassUID))
        parts.append(_US.pack(0x0000, 0x0100, 2, field))
        parts.append(_US.pack(0x0000, 0x0120, 2, responding_to))
        parts.append(_US.pack(0x0000, 0x0800, 2, _NO_DATA_SET if data_set is None else 0x0001))
        parts.append(_US.pack(0x0000, 0x0900, 2, status))
        if kind is C_STORE and primitive.AffectedSOPInstanceUID:
            parts.append(_uid_element(0x1000, primitive.AffectedSOPInstanceUID))
    except ValueError:
        return None
    body = b"".join(parts)
    return _HEADER.pack(0x0000, 0x0000, 4) + struct.pack("<I", len(body)) + body, data_set


_ORIGINAL_SEND_MSG = DIMSEServiceProvider.send_msg


def _send_msg(self, primitive, context_id: int) -> None:
    """Send a C-STORE/C-FIND/C-ECHO response without building pydicom data sets.

    The command set and a small data set go out in one P-DATA-TF as two PDVs (PS3.8
    9.3.5 allows any number) rather than one PDU each: half the work for the DUL thread
    and the peer per worklist match. Anything else, or any observer of
    EVT_DIMSE_SENT (pynetdicom's debug log), goes through pynetdicom's send_msg.
    """
    encoded = encode_response(primitive)
    if encoded is None or self.assoc.get_handlers(evt.EVT_DIMSE_SENT):
        _ORIGINAL_SEND_MSG(self, primitive, context_id)
        return
    command, data_set = encoded
    # Each PDV costs 6 bytes (item length, context ID, message control header) of the
    # peer's maximum PDU length (0: no limit).
    limit = self.maximum_pdu_size or 0
    if limit and len(command) + 6 > limit:
        _ORIGINAL_SEND_MSG(self, primitive, context_id)
        return
    pdvs = [b"\x03" + command]
    if data_set is not None:
        step = limit - 6 if limit else len(data_set)
        for start in range(0, len(data_set), step):
            last = start + step >= len(data_set)
            pdvs.append((b"\x02" if last else b"\x00") + data_set[start : start + step])
    pdatas, used = [P_DATA()], 0
    for pdv in pdvs:
        if limit and used and used + len(pdv) + 5 > limit:
            pdatas.append(P_DATA())
            used = 0
        pdatas[-1].presentation_data_value_list.append((context_id, pdv))
        used += len(pdv) + 5
    for pdata in pdatas:
        self.dul.send_pdu(pdata)


class PreEncoded:
    """A C-FIND response identifier that encodes itself in Implicit or Explicit VR Little
    Endian (``encode``); ``dataset()`` is the pydicom Dataset, which pynetdicom encodes
    for any other transfer syntax or when ``encode`` raises ValueError. A listener
    handler may yield one where pynetdicom expects a Dataset (``tune_pynetdicom``)."""

    __slots__ = ()

    def encode(self, implicit: bool) -> bytes:
        raise NotImplementedError

    def dataset(self) -> Dataset:
        raise NotImplementedError


_ORIGINAL_ENCODE = service_class.encode


def _encode_identifier(ds, is_implicit_vr: bool, is_little_endian: bool, deflated: bool = False):
    if isinstance(ds, PreEncoded):
        if is_little_endian and not deflated:
            with contextlib.suppress(ValueError):
                return ds.encode(implicit=is_implicit_vr)
        ds = ds.dataset()
    return _ORIGINAL_ENCODE(ds, is_implicit_vr, is_little_endian, deflated)


# --- Reactors: wait for events instead of polling -----------------------------------------


class _BriskClock:
    """pynetdicom's association and DUL reactors poll with 1 ms sleeps, which adds a few
    ms to every message: most of the cost of a small image. Poll at 0.2 ms instead.

    The association reactor sleeps between looks at its queue of decoded DIMSE messages:
    it waits on that queue instead, so it wakes the moment the DUL thread delivers a
    message, and otherwise every ``IDLE_S`` to look for a release, an abort or a timeout
    (rather than polling, which costs CPU and GIL hand-offs the DUL thread needs)."""

    POLL_S = 0.0002
    IDLE_S = 0.002

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        messages = getattr(getattr(threading.current_thread(), "dimse", None), "msg_queue", None)
        if messages is not None:
            with messages.not_empty:
                if not messages.queue:  # (qsize() would take this lock again)
                    messages.not_empty.wait(min(seconds, self.IDLE_S))
                    return
        time.sleep(min(seconds, self.POLL_S))


class _DulClock(_BriskClock):
    """The DUL reactor sleeps whenever it found nothing to do. Instead of waking every
    0.2 ms to poll, it waits (``select``) for its socket to become readable or for the
    association thread to hand it something to send (``_send_pdu`` writes a byte to the
    DUL's wake-up socket pair), at most ``IDLE_S`` (its timers and queue are still
    checked that often). Incoming PDUs and outgoing responses are handled at once, and an
    idle or busy association no longer burns CPU and GIL hand-offs on polling."""

    IDLE_S = 0.002

    def sleep(self, seconds: float) -> None:
        provider = threading.current_thread()
        wake = getattr(provider, "_nephro_wake", None)
        sock = getattr(getattr(provider, "socket", None), "socket", None)
        if wake is None or sock is None or isinstance(sock, ssl.SSLSocket):
            super().sleep(seconds)  # not a DUL thread we set up, or TLS (buffered data)
            return
        try:
            # (``seconds`` is the DUL's 0.2 ms poll delay: waking on events replaces it)
            ready, _, _ = select.select([sock, wake[0]], [], [], self.IDLE_S)
        except (OSError, ValueError):  # the socket was closed meanwhile
            super().sleep(seconds)
            return
        if wake[0] in ready:
            with contextlib.suppress(OSError):
                wake[0].recv(4096)


_ORIGINAL_SEND_PDU = DULServiceProvider.send_pdu
_ORIGINAL_DUL_RUN = DULServiceProvider.run_reactor


def _send_pdu(self, primitive) -> None:
    _ORIGINAL_SEND_PDU(self, primitive)
    wake = getattr(self, "_nephro_wake", None)
    if wake is not None:
        # (OSError: already signalled, its buffer is full; or closed: nothing to wake)
        with contextlib.suppress(OSError):
            wake[1].send(b"\0")


def _run_dul(self) -> None:
    try:
        _ORIGINAL_DUL_RUN(self)
    finally:
        wake = self.__dict__.pop("_nephro_wake", None)
        for end in wake or ():
            end.close()


def handle_open(event) -> None:
    """EVT_CONN_OPEN: set up a new association's DUL reactor and socket."""
    provider = event.assoc.dul
    provider._run_loop_delay = _BriskClock.POLL_S
    if getattr(provider, "_nephro_wake", None) is None:
        wake = socket.socketpair()
        for end in wake:
            end.setblocking(False)
        provider._nephro_wake = wake
    # Without TCP_NODELAY, the second of several small responses (worklist matches,
    # C-STORE responses) waits for the peer's delayed ACK: ~40 ms each time.
    sock = getattr(event.assoc.dul.socket, "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def tune_pynetdicom() -> None:
    """Process-wide pynetdicom settings for throughput (idempotent; see docs/dicom.md).

    Call it after setting the ``pynetdicom`` logger's level: with INFO or DEBUG enabled,
    pynetdicom keeps its per-message log handlers (and its own response encoding)."""
    AssociationSocket.recv = _recv_exactly
    # Stream each received data set to .incoming/ as its fragments arrive, instead of
    # collecting it in memory: writing overlaps receiving, and a 150-frame run costs no
    # memory. The finished file is then checked and renamed into place (storage.py).
    _config.STORE_RECV_CHUNKED_DATASET = True
    dimse_messages.NamedTemporaryFile = _incoming_file
    dimse_messages.create_file_meta = _create_file_meta
    dimse_messages.write_file_meta_info = _write_file_meta_info
    dimse_messages.decode = _decode_command_set
    DIMSEServiceProvider.send_msg = _send_msg
    service_class.encode = _encode_identifier
    association.time = _BriskClock()
    dul.time = _DulClock()
    DULServiceProvider.send_pdu = _send_pdu
    DULServiceProvider.run_reactor = _run_dul
    # pynetdicom formats every worklist identifier for its log even when the log level
    # drops the lines; that formatting costs more than our whole query.
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    # Its standard handlers likewise format every message and PDU for INFO and DEBUG
    # lines: bound only when someone reads them (bound per association, so this applies
    # to associations started from now on).
    verbose = logging.getLogger("pynetdicom").isEnabledFor(logging.INFO)
    _config.LOG_HANDLER_LEVEL = "standard" if verbose else "none"
