"""Where published images live: files on this machine, or an S3-compatible object store.

``NEPHRO_IMAGE_STORE`` chooses (settings.py). Both stores answer the same five
questions, so ingest, the viewer, thumbnails and the analysis never ask which one runs:

- ``put(temp, key)``: publish a checked file under ``key`` without ever replacing
  another; True when we created it, False when the key was taken (the caller compares).
- ``same_content(key, dataset)``: whether the stored object holds exactly this data set.
- ``local_path(key)``: a file on this machine with the object's bytes, for readers that
  need one (pydicom, the renderer, the analysis).
- ``quarantine(path, sop)`` / ``quarantine_key(key, sop)``: keep a refused file for review.
- ``delete(key)``: take back an object the index could not name.

The object store raises ``Unavailable`` when it cannot be reached or did not keep the
bytes it was sent; the listener then keeps the file locally (pending.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from nephro.dicom import publish, storage

QUARANTINE = publish.QUARANTINE
# After the object store failed to answer, calls fail at once for this long instead of
# each waiting for its own timeout (a unit's run must not crawl through an outage).
DOWN_FOR_S = 5.0


class Unavailable(Exception):
    """The object store cannot take or give an object now; try again later."""


class Store(Protocol):
    def put(self, temp: Path, key: str, *, fsync: bool = False) -> bool: ...
    def same_content(self, key: str, dataset: memoryview) -> bool: ...
    def local_path(self, key: str) -> Path: ...
    def quarantine(self, path: Path, sop_instance_uid: str) -> str: ...
    def quarantine_key(self, key: str, sop_instance_uid: str) -> str: ...
    def delete(self, key: str) -> None: ...
    def recheck(self) -> None: ...
    def check(self) -> None: ...


class FileStore:
    """Files under NEPHRO_DICOM_DIR, published by hard link (publish.py)."""

    def put(self, temp: Path, key: str, *, fsync: bool = False) -> bool:
        return publish.link(temp, key, fsync=fsync)

    def same_content(self, key: str, dataset: memoryview) -> bool:
        return publish.same_content(storage.absolute(key), dataset)

    def local_path(self, key: str) -> Path:
        return storage.absolute(key)

    def quarantine(self, path: Path, sop_instance_uid: str) -> str:
        return publish.quarantine(path, sop_instance_uid)

    def quarantine_key(self, key: str, sop_instance_uid: str) -> str:
        return publish.quarantine(storage.absolute(key), sop_instance_uid)

    def delete(self, key: str) -> None:
        storage.absolute(key).unlink(missing_ok=True)

    def recheck(self) -> None:
        pass

    def check(self) -> None:
        pass


def _digests(path: Path) -> tuple[str, str]:
    """SHA-256 (base64, as S3 checksums are written) and MD5 (hex, a plain put's ETag)."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
            md5.update(chunk)
    return base64.b64encode(sha.digest()).decode("ascii"), md5.hexdigest()


class S3Store:
    """An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, moto) through boto3.

    No overwrite: every put is conditional (``If-None-Match: *``), so of two hosts
    publishing one SOP Instance UID exactly one creates the object and the other gets
    412 and compares content, as the file store's ``link()`` does. The server checks the
    SHA-256 we send, and we read back size and checksum before saying the object is
    stored. Objects never change once written, so a local copy (NEPHRO_DICOM_CACHE_DIR)
    serves readers for as long as it exists.
    """

    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self._down_until = 0.0
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            config=Config(
                connect_timeout=3,
                read_timeout=30,
                retries={"max_attempts": 2, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )

    def recheck(self) -> None:
        """Try the store on the next call even if it failed a moment ago."""
        self._down_until = 0.0

    def check(self) -> None:
        """Refuse a server that ignores ``If-None-Match: *`` (it would let one host
        overwrite another's image): put a probe twice, the second must be refused.
        Raises Unavailable when the store does not answer (the probe runs next time)."""
        from botocore.exceptions import ClientError
        from django.core.exceptions import ImproperlyConfigured

        key = f".probe/{os.getpid()}-{time.time_ns()}"
        self._call("put_object", Key=key, Body=b"1", IfNoneMatch="*")
        try:
            self._call("put_object", Key=key, Body=b"2", IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise
        else:
            raise ImproperlyConfigured(
                "the object store ignores If-None-Match: * (conditional writes); Nephro "
                "needs them so that no host overwrites another's image"
            )
        finally:
            self._call("delete_object", Key=key)

    def _call(self, name: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        if time.monotonic() < self._down_until:
            raise Unavailable("object store: did not answer a moment ago")
        try:
            return getattr(self.client, name)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or exc.response.get("Error", {}).get("Code") == "SlowDown":
                self._down_until = time.monotonic() + DOWN_FOR_S
                raise Unavailable(f"object store: {exc}") from exc
            raise
        except BotoCoreError as exc:  # cannot connect, timed out, bad response
            self._down_until = time.monotonic() + DOWN_FOR_S
            raise Unavailable(f"object store: {exc}") from exc

    def put(self, temp: Path, key: str, *, fsync: bool = False) -> bool:
        from botocore.exceptions import ClientError

        checksum, md5 = _digests(temp)
        size = temp.stat().st_size
        try:
            with temp.open("rb") as body:
                self._call(
                    "put_object",
                    Key=key,
                    Body=body,
                    IfNoneMatch="*",
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=checksum,
                    ContentType="application/dicom",
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412"):
                return False
            if code == "ConditionalRequestConflict":  # a put of this key in flight
                raise Unavailable(f"object store: {exc}") from exc
            raise
        head = self._call("head_object", Key=key, ChecksumMode="ENABLED")
        kept = head.get("ChecksumSHA256") == checksum or head.get("ETag", "").strip('"') == md5
        if head.get("ContentLength") != size or not kept:
            # Not what we sent (or a server that keeps neither checksum): never index it.
            self._call("delete_object", Key=key)
            raise Unavailable(f"object store kept {key} with a different size or checksum")
        return True

    def _chunks(self, key: str) -> Iterator[bytes]:
        body = self._call("get_object", Key=key)["Body"]
        try:
            yield from body.iter_chunks(1 << 20)
        finally:
            body.close()

    def same_content(self, key: str, dataset: memoryview) -> bool:
        """Compared as it streams in (a run may be a gigabyte): file meta aside, as
        publish.same_content does for files."""
        from botocore.exceptions import ClientError

        head = b""
        skip: int | None = None  # bytes of preamble and file meta still to pass over
        position = 0
        try:
            for part in self._chunks(key):
                chunk = part
                if skip is None:
                    head += part
                    if len(head) < 144:
                        continue
                    if head[128:132] != b"DICM":
                        return False
                    skip = 144 + int.from_bytes(head[140:144], "little")
                    chunk = head
                if skip:
                    passed = min(skip, len(chunk))
                    chunk, skip = chunk[passed:], skip - passed
                if dataset[position : position + len(chunk)] != chunk:
                    return False
                position += len(chunk)
        except ClientError:
            return False
        return skip == 0 and position == len(dataset)

    def local_path(self, key: str) -> Path:
        path = Path(settings.NEPHRO_DICOM_CACHE_DIR) / "objects" / key
        if path.is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{os.getpid()}-{time.time_ns()}.part")
        try:
            with temp.open("wb") as out:
                for chunk in self._chunks(key):
                    out.write(chunk)
            temp.replace(path)
        finally:
            temp.unlink(missing_ok=True)
        return path

    def quarantine(self, path: Path, sop_instance_uid: str) -> str:
        key = f"{QUARANTINE}/{sop_instance_uid}.{time.time_ns()}.{os.getpid()}.dcm"
        with path.open("rb") as body:
            self._call("put_object", Key=key, Body=body, ContentType="application/dicom")
        path.unlink(missing_ok=True)
        return key

    def quarantine_key(self, key: str, sop_instance_uid: str) -> str:
        target = f"{QUARANTINE}/{sop_instance_uid}.{time.time_ns()}.{os.getpid()}.dcm"
        self._call("copy_object", Key=target, CopySource={"Bucket": self.bucket, "Key": key})
        self.delete(key)
        return target

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=key)


@cache
def _s3(bucket: str, endpoint_url: str, region: str) -> S3Store:
    return S3Store(bucket=bucket, endpoint_url=endpoint_url, region=region)


def current() -> Store:
    """The store the settings choose (one client per process and configuration)."""
    if settings.NEPHRO_IMAGE_STORE == "s3":
        return _s3(
            settings.NEPHRO_S3_BUCKET, settings.NEPHRO_S3_ENDPOINT_URL, settings.NEPHRO_S3_REGION
        )
    return FileStore()
