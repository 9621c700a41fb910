"""Images on an S3-compatible object store (issue 18 item 2), against a real S3 server
(moto in server mode on loopback; boto3 talks HTTP to it, nothing is mocked).

The listener receives into .incoming/, checks, publishes to the store without
overwrite, and indexes only what the store holds; viewer, thumbnails and analysis read
through the same seam; with the store down the listener still answers Success, keeps
the images on its disk and publishes them when the store is back.
"""

from __future__ import annotations

import http.client
import io
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from pydicom import dcmread

from nephro.dicom import ingest, objectstore, pending, publish, samples, tasks, thumbs
from nephro.dicom.checks import Conflict
from nephro.dicom.models import Instance, Quarantined
from nephro.drainage.services import image_paths
from nephro.exams.lifecycle import State
from tests.deploy.s3 import KEYS, S3Server
from tests.dicom.conftest import stored_files
from tests.dicom.test_storage_safety import Sender

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]
SUCCESS = 0x0000


@pytest.fixture
def s3(settings, dicom_dirs, monkeypatch):
    server = S3Server()
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    settings.NEPHRO_IMAGE_STORE = "s3"
    settings.NEPHRO_S3_ENDPOINT_URL = server.url
    settings.NEPHRO_S3_BUCKET = server.bucket
    yield server
    server.stop()


def _image(path: Path, n: int, **kwargs) -> Path:
    samples.image(
        path,
        rows=32,
        cols=32,
        frames=2,
        study_uid="1.2.826.0.1.3680043.10.543.18.1",
        series_uid="1.2.826.0.1.3680043.10.543.18.1.1",
        sop_uid=f"1.2.826.0.1.3680043.10.543.18.1.1.{n}",
        instance_number=n,
        **kwargs,
    )
    return path


def _key(path: Path) -> str:
    ds = dcmread(path, stop_before_pixels=True)
    return f"{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"


def _dataset(part10: bytes) -> bytes:
    return part10[144 + int.from_bytes(part10[140:144], "little") :]


def _wait(condition, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_an_image_is_published_to_the_store_and_read_back_through_it(s3, tmp_path, dicom_dirs):
    source = _image(tmp_path / "a.dcm", 1)
    stored = ingest.import_part10(io.BytesIO(source.read_bytes()), calling_ae="UPLOAD")

    key = _key(source)
    assert stored.instance.path == key
    assert s3.object_keys() == [key]
    assert s3.read(key) == source.read_bytes()  # exactly the bytes received
    assert stored_files(dicom_dirs) == []  # nothing published on the local disk
    assert list((dicom_dirs / ".incoming").iterdir()) == []
    # Readers get a local copy of the object (the viewer, the analysis)...
    assert ingest.stored_path(stored.instance).read_bytes() == source.read_bytes()
    # ...and the worker's jobs read through the same seam.
    tasks.thumbnail(stored.instance.pk)
    instance = Instance.objects.get()
    assert instance.thumbnail and instance.sha256
    assert thumbs.thumbnail_png(instance).startswith(b"\x89PNG")


def test_a_reader_on_another_host_fetches_the_object(s3, tmp_path, settings):
    source = _image(tmp_path / "a.dcm", 1)
    stored = ingest.import_part10(source.open("rb"), calling_ae="UPLOAD")
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "other-host-cache"  # an empty disk
    assert ingest.stored_path(stored.instance).read_bytes() == source.read_bytes()
    png = thumbs.thumbnail_png(stored.instance)  # no cached thumbnail there either
    assert png.startswith(b"\x89PNG")


def test_the_analysis_reads_an_exams_images_through_the_store(s3, tmp_path, settings, make_exam):
    exam = make_exam(State.IN_PROGRESS)
    identity = {
        "accession": exam.accession_number,
        "patient_id": exam.patient.mrn,
        "patient_name": exam.patient.dicom_name,
    }
    sources = [_image(tmp_path / f"{n}.dcm", n, **identity) for n in (1, 2)]
    for source in sources:
        ingest.import_part10(source.open("rb"), calling_ae="UPLOAD")
    assert exam.instances.count() == 2
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "worker-host-cache"  # another host
    paths = image_paths(exam)
    assert [path.read_bytes() for path in paths] == [source.read_bytes() for source in sources]
    assert all(settings.NEPHRO_DICOM_CACHE_DIR in path.parents for path in paths)


def test_the_same_image_again_is_a_duplicate_and_other_content_is_quarantined(s3, tmp_path):
    source = _image(tmp_path / "a.dcm", 1)
    first = ingest.import_part10(source.open("rb"), calling_ae="UPLOAD")
    again = ingest.import_part10(source.open("rb"), calling_ae="UPLOAD")
    assert again.duplicate and again.instance.pk == first.instance.pk

    other = _image(tmp_path / "b.dcm", 1, seed=7)  # same UIDs, other pixels
    with pytest.raises(Conflict):
        ingest.import_part10(other.open("rb"), calling_ae="UPLOAD")

    key = _key(source)
    assert s3.read(key) == source.read_bytes()  # the stored one is kept
    kept = Quarantined.objects.get()
    assert kept.path.startswith(".quarantine/")
    assert s3.object_keys(".quarantine/") == [kept.path]
    assert s3.read(kept.path) == other.read_bytes()
    assert Instance.objects.count() == 1


def test_two_hosts_putting_one_key_at_once_create_it_once(s3, tmp_path):
    store = objectstore.current()
    files = []
    for n in range(8):
        path = tmp_path / f"{n}.bin"
        path.write_bytes(bytes([n]) * 4096)
        files.append(path)
    results: list[bool] = []
    barrier = threading.Barrier(len(files))

    def put(path: Path) -> None:
        barrier.wait()
        results.append(store.put(path, "race/one.dcm"))

    threads = [threading.Thread(target=put, args=(path,)) for path in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert s3.read("race/one.dcm") in {path.read_bytes() for path in files}


def test_with_the_store_down_an_upload_is_refused_and_nothing_is_kept(s3, tmp_path, dicom_dirs):
    s3.stop()
    source = _image(tmp_path / "a.dcm", 1)
    with pytest.raises(objectstore.Unavailable):
        ingest.import_part10(source.open("rb"), calling_ae="UPLOAD")
    assert not Instance.objects.exists()
    assert list((dicom_dirs / ".incoming").iterdir()) == []
    assert publish.pending() == []


def test_an_upload_on_the_page_while_the_store_is_down_says_so(
    s3, tmp_path, make_exam, people, login
):
    exam = make_exam(State.IN_PROGRESS)
    path = _image(tmp_path / "a.dcm", 1, accession=exam.accession_number)
    s3.stop()
    with path.open("rb") as handle:
        response = login(people["tech"]).post(
            reverse("dicom:upload", args=[exam.pk]), {"files": [handle]}, follow=True
        )
    assert response.status_code == 200
    assert "the image store cannot be reached just now" in response.content.decode()
    assert not Instance.objects.exists() and publish.pending() == []


def test_the_listener_keeps_answering_while_the_store_is_down_and_publishes_later(
    s3, tmp_path, start_listener
):
    files = [_image(tmp_path / f"{n}.dcm", n, accession="A18") for n in range(1, 13)]
    port = start_listener(NEPHRO_IMAGE_STORE_RETRY_SECONDS=1)
    sender = Sender(port)
    statuses = [sender.send(path) for path in files[:4]]
    s3.stop()  # the store goes down in the middle of the run
    statuses += [sender.send(path) for path in files[4:8]]
    # Acknowledged, safe on the listener's disk, not indexed: the store does not hold them.
    assert statuses == [SUCCESS] * 8
    assert Instance.objects.count() == 4
    assert len(publish.pending()) == 4
    time.sleep(1.5)  # a retry runs while the store is still down: nothing is lost
    assert Instance.objects.count() == 4
    assert len(publish.pending()) == 4

    s3.start()
    statuses += [sender.send(path) for path in files[8:]]
    sender.close()
    assert statuses == [SUCCESS] * 12
    assert _wait(lambda: Instance.objects.count() == 12 and not publish.pending())
    assert s3.object_keys() == sorted(_key(path) for path in files)
    for path in files:  # the data set exactly as sent (the listener writes its file meta)
        assert _dataset(s3.read(_key(path))) == _dataset(path.read_bytes())
    # Each published once, audited, its jobs queued (ingest without a batch).
    assert _wait(lambda: not Instance.objects.filter(audit_pending=True).exists())
    # The sender's own file (other file meta) is the same image: a duplicate.
    assert ingest.import_part10(files[0].open("rb"), calling_ae="UPLOAD").duplicate


def test_after_the_store_failed_calls_fail_at_once_until_rechecked(s3, tmp_path, monkeypatch):
    monkeypatch.setattr(objectstore, "DOWN_FOR_S", 600.0)
    store = objectstore.current()
    path = tmp_path / "x.bin"
    path.write_bytes(b"x" * 100)
    s3.stop()
    with pytest.raises(objectstore.Unavailable):
        store.put(path, "k1")
    s3.start()
    # Up again, but not asked: a run during an outage does not wait on every image.
    with pytest.raises(objectstore.Unavailable, match="a moment ago"):
        store.put(path, "k1")
    assert s3.object_keys() == []
    store.recheck()  # what the retry of the waiting images does first
    assert store.put(path, "k1")
    assert s3.object_keys() == ["k1"]


def test_publishing_waiting_images_stops_while_the_store_is_still_down(s3, tmp_path, people, login):
    source = _image(tmp_path / "a.dcm", 1)
    temp = tmp_path / "copy.dcm"
    temp.write_bytes(source.read_bytes())
    s3.stop()
    with pytest.raises(publish.Deferred):
        ingest.store_file(
            temp,
            sop_class=samples.RF_CLASS,
            sop_instance="1.2.826.0.1.3680043.10.543.18.1.1.1",
            syntax="1.2.840.10008.1.2.1",
            calling_ae="FLUORO1",
            defer=True,
        )
    # What a crash left before a sidecar was written (never acknowledged), long ago.
    leftover = publish.pending_dir() / "1.2.3.4.5.dcm"
    leftover.write_bytes(b"partial")
    os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    assert pending.publish_pending() == 0
    assert len(publish.pending()) == 1 and not Instance.objects.exists()
    assert not leftover.exists()
    page = login(people["admin"]).get(reverse("dicom:health")).content.decode()
    assert "1 image received here waits for the image store" in page
    s3.start()
    broken = publish.pending_dir() / "1.2.3.json"  # edited by hand: not valid JSON
    broken.write_text("{not json")
    (publish.pending_dir() / "1.2.3.dcm").write_bytes(b"kept")
    assert pending.publish_pending() == 1  # the broken record does not hold up the rest
    assert publish.pending() == [broken] and Instance.objects.count() == 1
    broken.unlink()
    page = login(people["admin"]).get(reverse("dicom:health")).content.decode()
    assert "wait for the image store" not in page and "waits for" not in page


class ForgetfulProxy:
    """A real HTTP server in front of the S3 server that drops If-None-Match: an object
    store without conditional writes."""

    def __init__(self, upstream_port: int):
        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "if-none-match"}
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=10)
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_store_that_would_let_one_host_overwrite_another_is_refused(s3, settings):
    objectstore.current().check()  # the real server honours If-None-Match
    proxy = ForgetfulProxy(s3.port)
    settings.NEPHRO_S3_ENDPOINT_URL = proxy.url
    try:
        with pytest.raises(ImproperlyConfigured, match="If-None-Match"):
            objectstore.current().check()
    finally:
        proxy.stop()
    assert s3.object_keys() == []  # the probe is taken back


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEPHRO_IMAGE_STORE": "nfs"}, "NEPHRO_IMAGE_STORE must be file or s3"),
        ({"NEPHRO_IMAGE_STORE": "s3", "NEPHRO_S3_BUCKET": ""}, "needs NEPHRO_S3_BUCKET"),
    ],
)
def test_a_bad_store_setting_stops_the_service(env, message):
    result = subprocess.run(
        [sys.executable, "-c", "import nephro.settings"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr
