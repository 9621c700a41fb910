"""A short seeded run of bench/fuzz_dicom.py (issue 16 item 8): mutated data sets and
malformed PDUs over real associations; the full run (10,000 and 1,000) is the bench's."""

from __future__ import annotations

import importlib.util
import random
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from nephro.dicom import scp
from tests.dicom.conftest import echoscu

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]
BENCH = Path(__file__).resolve().parents[2] / "bench" / "fuzz_dicom.py"


def _fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_dicom", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mutated_data_sets_and_malformed_pdus_break_nothing(start_listener, tmp_path, monkeypatch):
    escaped = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    port = start_listener(NEPHRO_DICOM_ACSE_TIMEOUT=2, NEPHRO_DICOM_NETWORK_TIMEOUT=2)
    fuzz = _fuzz()
    stores, answers = fuzz.run(seed=16, datasets=80, pdus=40, port=port, work=tmp_path)
    assert stores["sent"] == 80 and stores["no_answer"] == 0 and stores["A700"] == 0
    assert stores["refused"] > 60  # the rest stayed valid DICOM: stored whole (below)
    assert sum(answers.values()) == 40 and answers["silent"] == 0
    deadline = time.monotonic() + 15
    while (scp.HEALTH.active or scp.HEALTH.pending) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (scp.HEALTH.active, scp.HEALTH.pending) == (0, 0)  # nothing stuck
    assert escaped == []  # no thread died
    assert fuzz.check_store(Path(settings.NEPHRO_DICOM_DIR)) == []
    assert echoscu(port).returncode == 0


def test_the_mutator_is_seeded_and_bounded():
    fuzz = _fuzz()
    data = bytes(range(256)) * 8
    first = [fuzz.mutate(random.Random(3), data) for _ in range(5)]
    assert first == [fuzz.mutate(random.Random(3), data) for _ in range(5)]
    rng = random.Random(4)
    assert all(len(fuzz.mutate(rng, data)) <= 2 * len(data) + 4096 for _ in range(500))


def test_a_reply_later_than_the_harness_timeout_is_counted_as_that_not_as_a_failure(
    start_listener, tmp_path, monkeypatch
):
    """The full run once failed on "a late C-STORE reply under load": a reply delayed
    past the harness's own DIMSE timeout is the harness giving up, reported by cause."""
    from nephro.dicom import ingest

    port = start_listener()
    store = ingest.store_file

    def slow_store(*args, **kwargs):
        time.sleep(2.0)  # a loaded machine
        return store(*args, **kwargs)

    monkeypatch.setattr(ingest, "store_file", slow_store)
    fuzz = _fuzz()
    sop_class, base = fuzz.seed_datasets(tmp_path)[0]
    late = (sop_class, *fuzz.fresh(random.Random(1), base))
    counts = fuzz.fuzz_store(port, [late], tmp_path, timeout=0.5)
    assert counts["harness_timeout"] == 1 and counts["sent"] == 1
    assert not any(counts[cause] for cause in fuzz.FAILURES)
    in_time = (sop_class, *fuzz.fresh(random.Random(2), base))
    counts = fuzz.fuzz_store(port, [in_time], tmp_path)
    assert counts["stored"] == 1 and counts["slowest_reply_s"] >= 2.0  # in time: stored


def test_how_an_unanswered_attempt_ended():
    fuzz = _fuzz()

    class Attempt:
        def __init__(self, **state):
            self.is_rejected = self.is_aborted = self.is_established = False
            self.__dict__.update(state)

    assert fuzz._ended(10.0, Attempt(is_aborted=True), timeout=10) == "harness_timeout"
    assert fuzz._ended(0.1, Attempt(is_rejected=True), timeout=10) == "association_rejected"
    assert fuzz._ended(0.1, Attempt(is_aborted=True), timeout=10) == "aborted_by_listener"
    assert fuzz._ended(0.1, Attempt(is_established=True), 10, settle=0.1) == "no_answer"
