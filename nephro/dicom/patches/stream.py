"""Patch: stream each received data set into ``.incoming/`` as it arrives.

Why: pynetdicom's chunked receive (``STORE_RECV_CHUNKED_DATASET``, a public setting)
writes to a temporary file in the system's temporary directory; the listener needs it on
the store's own file system (``.incoming/``) so it can be published with link() without
a copy (publish.py). Writing overlaps receiving, and a 150-frame run costs no memory.
Gain: a copy of every file saved (without it scp.py moves the file into .incoming/).
"""

from __future__ import annotations

from typing import Any

from pynetdicom import (
    dimse_messages,
)

from nephro.dicom import storage


def _incoming_file(**kwargs: Any) -> Any:
    kwargs.pop("delete", None)
    return storage.incoming_file(**kwargs)


def apply() -> None:
    dimse_messages.NamedTemporaryFile = _incoming_file  # type: ignore[assignment]
