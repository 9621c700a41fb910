"""pynetdicom speed patches, contained.

Each module here replaces one pynetdicom internal for throughput and says why and what
it gained (measured with bench/dicom_ingest.py; docs/dicom.md "pynetdicom patches").
Internals change between releases without notice, so the patches are applied only on
the exact version they were written and measured against (``PINNED``, the version
pyproject.toml pins): on any other, the listener runs stock pynetdicom, with a warning.
``NEPHRO_DICOM_SPEED_PATCHES`` chooses which to apply (``all``, ``none``, or names).

Whatever is applied, the listener behaves the same on the wire (tests/dicom/
test_tuning.py compares each shortcut with the code it replaces); its safety never
depends on them (gate.py, storage checks).
"""

from __future__ import annotations

import logging
import socket
import warnings
from types import ModuleType
from typing import Any

import pynetdicom
from pynetdicom import _config

from nephro.dicom.patches import (
    commands,
    file_meta,
    identifiers,
    reactors,
    recv,
    responses,
    stream,
)

PINNED = "3.0.4"
PATCHES: dict[str, ModuleType] = {
    "recv": recv,
    "stream": stream,
    "file_meta": file_meta,
    "commands": commands,
    "responses": responses,
    "identifiers": identifiers,
    "reactors": reactors,
}
log = logging.getLogger("nephro.dicom")
_applied: set[str] = set()


def chosen(setting: str) -> list[str]:
    """The patch names a NEPHRO_DICOM_SPEED_PATCHES value selects; ValueError if unknown."""
    value = setting.strip().lower()
    if value == "all":
        return list(PATCHES)
    if value in ("", "none"):
        return []
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in PATCHES]
    if unknown:
        raise ValueError(f"unknown speed patches {unknown}; known: {', '.join(PATCHES)}")
    return names


def apply(names: list[str]) -> list[str]:
    """Apply these patches (idempotent, process-wide) if pynetdicom is the pinned
    version; return the names applied so far. Set the ``pynetdicom`` logger's level
    first: with INFO or DEBUG it keeps its per-message log handlers."""
    # pynetdicom's own settings (public configuration, any version): no per-message log
    # formatting nobody reads, and received data sets streamed to a file.
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    verbose = logging.getLogger("pynetdicom").isEnabledFor(logging.INFO)
    _config.LOG_HANDLER_LEVEL = "standard" if verbose else "none"
    _config.STORE_RECV_CHUNKED_DATASET = True
    if names and pynetdicom.__version__ != PINNED:
        message = (
            f"pynetdicom {pynetdicom.__version__} is not {PINNED}, the version the "
            "listener's speed patches were written for: running stock pynetdicom (slower)"
        )
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        log.warning(message)
        return sorted(_applied)
    for name in names:
        if name not in _applied:
            PATCHES[name].apply()
            _applied.add(name)
    return sorted(_applied)


def applied(name: str) -> bool:
    return name in _applied


def handle_open(event: Any) -> None:
    """EVT_CONN_OPEN: set up a new association's socket (and reactor, if patched)."""
    if applied("reactors"):
        reactors.setup(event)
    # Without TCP_NODELAY, the second of several small responses (worklist matches,
    # C-STORE responses) waits for the peer's delayed ACK: ~40 ms each time.
    sock = getattr(event.assoc.dul.socket, "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
