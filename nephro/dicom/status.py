"""The listener's health: counters kept in the listener process, written to a small JSON
file every few seconds, read by the admin health page (health.py) in the web process."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

WRITE_EVERY_S = 2.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Health:
    up_since: str = field(default_factory=_now)
    pid: int = field(default_factory=os.getpid)
    associations: int = 0  # accepted since start
    active: int = 0
    pending: int = 0  # connections not yet associated
    refusals: int = 0  # connections closed or associations rejected by our rules
    last_refusal: str = ""
    last_error: str = ""
    written_at: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def refused(self, why: str) -> None:
        with self._lock:
            self.refusals += 1
            self.last_refusal = f"{_now()} {why}"[:300]

    def error(self, why: str) -> None:
        with self._lock:
            self.last_error = f"{_now()} {why}"[:300]

    def accepted(self) -> None:
        with self._lock:
            self.associations += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}


def path() -> Path:
    return Path(settings.NEPHRO_DICOM_DIR) / ".health.json"


def write(health: Health) -> None:
    health.written_at = _now()
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".health.{os.getpid()}.tmp")
    temp.write_text(json.dumps(health.snapshot()))
    os.replace(temp, target)


def read() -> dict | None:
    """The last health the listener wrote (None if it never ran here); ``stale`` when it
    has not written for a while (the listener is down or hung)."""
    try:
        data = json.loads(path().read_text())
    except (FileNotFoundError, ValueError):
        return None
    age = time.time() - path().stat().st_mtime
    data["stale"] = age > 5 * WRITE_EVERY_S
    return data


def keep_writing(health: Health, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        while True:
            # (a full disk must not stop the listener; the page then shows it stale)
            with contextlib.suppress(OSError):
                write(health)
            if stop.wait(WRITE_EVERY_S):
                return

    thread = threading.Thread(target=run, name="dicom-health", daemon=True)
    thread.start()
    return thread
