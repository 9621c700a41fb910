"""A real S3-compatible server for the tests: moto in server mode on a loopback port.

It speaks S3 over HTTP like any object store (boto3 is not mocked), keeps its objects
in this process, and can be stopped and started again on the same port: the store
"being down for a while".
"""

from __future__ import annotations

import socket
import uuid

import boto3
from moto.server import ThreadedMotoServer

KEYS = {"AWS_ACCESS_KEY_ID": "nephro-test", "AWS_SECRET_ACCESS_KEY": "nephro-test-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bucket = f"nephro-{uuid.uuid4().hex[:12]}"
        self._server: ThreadedMotoServer | None = None
        self.start()
        self.client = boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        )
        self.client.create_bucket(Bucket=self.bucket)

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def object_keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def env(self) -> dict[str, str]:
        """The settings a separate process needs to use this store."""
        return {
            "NEPHRO_IMAGE_STORE": "s3",
            "NEPHRO_S3_ENDPOINT_URL": self.url,
            "NEPHRO_S3_BUCKET": self.bucket,
            **KEYS,
        }
