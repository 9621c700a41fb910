"""The MLLP listener: python-hl7's asyncio server, one task per connection.

Each block read is handed to ``inbound.receive`` in a worker thread (Django's ORM is
synchronous) and its ACK written back. A connection that sends garbage is answered or
closed; it never stops the server. ``start()`` runs it in a background thread (for
``nephro serve`` and the tests); ``nephro hl7`` runs it in the foreground.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings
from django.db import close_old_connections
from hl7.mllp import start_hl7_server
from hl7.mllp.exceptions import InvalidBlockError

from nephro.hl7.inbound import receive

log = logging.getLogger("nephro.hl7")
# One message may be large (an embedded report), but not unbounded.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def _receive(raw: bytes, peer: str) -> bytes:
    close_old_connections()
    try:
        return receive(raw, peer)
    finally:
        close_old_connections()


async def _connection(reader, writer) -> None:
    host, port = (writer.get_extra_info("peername") or ("?", "?"))[:2]
    peer = f"{host}:{port}"
    try:
        while not writer.is_closing():
            try:
                raw = await reader.readblock()
            except InvalidBlockError:
                log.warning("HL7 peer %s sent data outside an MLLP block; closing", peer)
                break
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                break
            ack = await asyncio.to_thread(_receive, raw, peer)
            writer.writeblock(ack)
            await writer.drain()
    except Exception:  # whatever one connection does, the server goes on
        log.exception("HL7 connection from %s failed", peer)
    finally:
        writer.close()


class Listener:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hl7-listener", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            start_hl7_server(_connection, self.host, self.port, limit=MAX_MESSAGE_BYTES)
        )
        self.port = server.sockets[0].getsockname()[1]
        log.info("HL7 MLLP listener on %s:%s", self.host, self.port)
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()
            self.loop.run_until_complete(server.wait_closed())
            self.loop.close()

    def start(self) -> Listener:
        self.thread.start()
        self.ready.wait(timeout=10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def start(host: str | None = None, port: int | None = None) -> Listener:
    """Start listening in a background thread; port 0 picks a free one (``listener.port``)."""
    host = settings.NEPHRO_HL7_HOST if host is None else host
    port = settings.NEPHRO_HL7_PORT if port is None else port
    return Listener(host, port).start()
