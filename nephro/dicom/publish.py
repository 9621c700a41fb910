"""Publishing a checked file without ever replacing another, and the quarantine.

A checked file in ``.incoming/`` is hard-linked to its final name: ``link()`` fails
when the name exists, so of two senders of one SOP Instance UID at the same moment
exactly one publishes, and the other compares its bytes with what is there. A file with
the same UID and different content is never indexed: it is moved to ``.quarantine/``
(same file system) with a row in the quarantine list for someone to review.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from nephro.dicom import storage

QUARANTINE = ".quarantine"


def link(temp: Path, relative: str, *, fsync: bool = False) -> bool:
    """Publish ``temp`` as ``relative``; True if we created it, False if the name was
    already taken (the caller compares content). ``temp`` stays for the caller to remove."""
    if fsync:
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
    final = storage.absolute(relative)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(temp, final)
    except FileExistsError:
        return False
    return True


def quarantine(path: Path, sop_instance_uid: str) -> str:
    """Move a refused file into the quarantine; return its path relative to the store."""
    folder = storage.root() / QUARANTINE
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{sop_instance_uid}.{time.time_ns()}.{os.getpid()}.dcm"
    os.replace(path, folder / name)
    return f"{QUARANTINE}/{name}"


def same_content(path: Path, dataset: memoryview) -> bool:
    """Whether the stored file holds exactly this data set (file meta aside)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    with path.open("rb") as stored:
        head = stored.read(132 + 12)
        if len(head) < 144 or head[128:132] != b"DICM":
            return False
        offset = 144 + int.from_bytes(head[140:144], "little")
        if size - offset != len(dataset):
            return False
        stored.seek(offset)
        position = 0
        while chunk := stored.read(1 << 20):
            if dataset[position : position + len(chunk)] != chunk:
                return False
            position += len(chunk)
        return position == len(dataset)


# --- Waiting for the object store ------------------------------------------------------
# An image the object store could not take is kept here (same file system) with a
# sidecar naming its C-STORE parameters, before the listener answers Success; pending.py
# publishes and indexes it when the store answers again. The sidecar is written last
# (atomically), so a record without one was never acknowledged.
PENDING = ".pending"


class Deferred(Exception):
    """Kept locally until the object store takes it (not indexed yet)."""


def pending_dir() -> Path:
    path = storage.root() / PENDING
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def keep(temp: Path, parameters: dict) -> Path:
    """Keep a checked file for a later publish (durably: file, sidecar and folder are
    synced to disk); return the sidecar's path."""
    folder = pending_dir()
    stem = f"{parameters['sop_instance']}.{time.time_ns()}.{os.getpid()}"
    data = folder / f"{stem}.dcm"
    os.link(temp, data)
    _fsync(data)
    sidecar = folder / f"{stem}.json"
    part = folder / f"{stem}.json.part"
    with part.open("w") as out:
        json.dump(parameters, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, sidecar)
    _fsync(folder)
    return sidecar


def pending() -> list[Path]:
    """The sidecars of the images waiting for the object store."""
    return sorted(pending_dir().glob("*.json"))
