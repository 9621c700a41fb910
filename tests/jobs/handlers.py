"""Handlers for the real worker processes of test_engine.py (imported by those workers).

Each run leaves a file named after what ran, in which process, and when.
"""

import os
import time
from datetime import timedelta
from pathlib import Path

from nephro.jobs import queue


def _out() -> Path:
    return Path(os.environ["NEPHRO_TEST_JOBS_OUT"])


@queue.job("test.record")
def record(n: int, hold_s: float = 0) -> None:
    start = time.time()
    time.sleep(hold_s)
    (_out() / f"record-{n}-{os.getpid()}-{start:.3f}-{time.time():.3f}").touch()


@queue.periodic("test.minute", every=timedelta(minutes=1))
def minute() -> None:
    (_out() / f"minute-{os.getpid()}-{time.time():.3f}").touch()
