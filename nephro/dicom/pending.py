"""Publishing the images the object store could not take when they arrived.

The listener keeps such an image in ``.pending/`` (publish.keep) and answers Success;
nothing is indexed yet. ``publish_pending`` runs each one through ``ingest.store_file``
again (the same checks, the same no-overwrite publish, then the index, its audit event
and its jobs), in the listener's own thread every NEPHRO_IMAGE_STORE_RETRY_SECONDS and
when it starts: the files are on this host's disk, so this host publishes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, connections

from nephro.dicom import audit_batch, checks, ingest, objectstore, publish, storage

log = logging.getLogger("nephro.dicom")


def publish_pending() -> int:
    """Publish and index what waits in ``.pending/``; return how many were published.
    Stops at the first image the store still cannot take (they wait for the next run)."""
    _sweep()
    done = 0
    objectstore.current().recheck()
    for sidecar in publish.pending():
        data = sidecar.with_suffix(".dcm")
        try:
            parameters = json.loads(sidecar.read_text())
            temp = storage.incoming_dir() / f"{os.getpid()}-{uuid.uuid4().hex}.part"
            os.link(data, temp)  # store_file consumes the file it is given
        except FileNotFoundError:
            continue  # published by another run in the meantime
        except ValueError:  # written atomically, so a person changed it: theirs to fix
            log.error("unreadable sidecar %s: the image waits for a person", sidecar)
            continue
        try:
            ingest.store_file(temp, **parameters)
        except objectstore.Unavailable:
            break
        except checks.Rejected as exc:  # a conflict: quarantined and listed (ingest.py)
            log.warning("waiting image %s refused: %s", parameters["sop_instance"], exc)
        except DatabaseError:
            raise  # the database is down: all of them wait for the next round
        except Exception:  # this one fails (kept for the next round); the others go on
            log.exception("publishing the waiting image %s failed", sidecar.name)
            continue
        done += 1
        data.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
    if done:
        log.info("published %d images that waited for the object store", done)
    return done


def _sweep(max_age_s: float = 3600) -> None:
    """Delete what a crash left between a file and its sidecar (never acknowledged)."""
    cutoff = time.time() - max_age_s
    for path in publish.pending_dir().iterdir():
        if path.suffix == ".json" or path.with_suffix(".json").exists():
            continue
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def keep_publishing(stopped: threading.Event) -> threading.Thread:
    """Run ``publish_pending`` now and then every NEPHRO_IMAGE_STORE_RETRY_SECONDS until
    ``stopped`` is set (the listener's own thread). Each round also audits, and queues
    the jobs of, what a listener that died (another host's too) had indexed but not
    audited, so a survivor finishes that work without waiting for its next association.

    First it checks that the image store refuses overwrites (objectstore.S3Store.check):
    a store that does not stops the listener from starting."""
    with contextlib.suppress(objectstore.Unavailable):  # down now: what comes waits
        objectstore.current().check()

    def run() -> None:
        while True:
            try:
                publish_pending()
                audit_batch.audit_orphans(max_age_s=4 * settings.NEPHRO_DICOM_TIMEOUT)
            except Exception:  # the database down too: try again next time
                log.exception("publishing the waiting images failed")
            finally:
                connections.close_all()  # this thread's own: none held between rounds
            if stopped.wait(settings.NEPHRO_IMAGE_STORE_RETRY_SECONDS):
                return

    thread = threading.Thread(target=run, name="nephro-pending", daemon=True)
    thread.start()
    return thread
