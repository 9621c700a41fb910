"""Patch: the association and DUL reactors wait for events instead of polling.

Why: pynetdicom's two reactor threads poll with 1 ms sleeps, which adds a few ms to
every message (most of the cost of a small image) and keeps an idle association busy.
The DUL thread ``select``s on its socket and a wake-up socket pair written by
``send_pdu``; the association thread waits on its message queue; both still look at
their timers every 2 ms.
Gain: an idle association from ~18 % of a CPU to ~5 %; the single-frame set.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from typing import Any

from pynetdicom import (
    association,
    dul,
)
from pynetdicom.dul import DULServiceProvider


class _BriskClock:
    """pynetdicom's association and DUL reactors poll with 1 ms sleeps, which adds a few
    ms to every message: most of the cost of a small image. Poll at 0.2 ms instead.

    The association reactor sleeps between looks at its queue of decoded DIMSE messages:
    it waits on that queue instead, so it wakes the moment the DUL thread delivers a
    message, and otherwise every ``IDLE_S`` to look for a release, an abort or a timeout
    (rather than polling, which costs CPU and GIL hand-offs the DUL thread needs)."""

    POLL_S = 0.0002
    IDLE_S = 0.002

    def __getattr__(self, name: str) -> Any:
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


def _send_pdu(self: DULServiceProvider, primitive: Any) -> None:
    _ORIGINAL_SEND_PDU(self, primitive)
    wake = getattr(self, "_nephro_wake", None)
    if wake is not None:
        # (OSError: already signalled, its buffer is full; or closed: nothing to wake)
        with contextlib.suppress(OSError):
            wake[1].send(b"\0")


def _run_dul(self: DULServiceProvider) -> None:
    try:
        _ORIGINAL_DUL_RUN(self)
    finally:
        wake = self.__dict__.pop("_nephro_wake", None)
        for end in wake or ():
            end.close()


def setup(event: Any) -> None:
    """EVT_CONN_OPEN: give a new association's DUL reactor its wake-up socket pair."""
    provider = event.assoc.dul
    provider._run_loop_delay = _BriskClock.POLL_S
    if getattr(provider, "_nephro_wake", None) is None:
        wake = socket.socketpair()
        for end in wake:
            end.setblocking(False)
        provider._nephro_wake = wake


def apply() -> None:
    association.time = _BriskClock()  # type: ignore[assignment]
    dul.time = _DulClock()  # type: ignore[assignment]
    DULServiceProvider.send_pdu = _send_pdu  # type: ignore[method-assign]
    DULServiceProvider.run_reactor = _run_dul  # type: ignore[method-assign]
