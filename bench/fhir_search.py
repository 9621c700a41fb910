"""FHIR search latency with many exams (issue 17). One command, figures printed:

    .venv/bin/python bench/fhir_search.py [--exams 100000] [--runs 50]
        [--database-url sqlite:////tmp/fhir_bench.sqlite3 | postgres://...] [--json]

Builds its own database (migrated like production; a fresh SQLite file by default),
fills it with bulk inserts (one patient per two exams, one order per exam, a signed
report on every third exam), then runs the searches a hospital client makes through the
real stack (Django's test client: URL routing, token check, scopes, query, mapping with
fhir.resources, the audit write) with a system token, and prints p50 and p95 per search.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_P95_MS = 300
BATCH = 5000


def setup(url: str, var_dir: str) -> None:
    # The bench chooses its own database, so the job engine follows it (its default),
    # whatever the caller's NEPHRO_JOBS_BACKEND says (CI sets procrastinate for PostgreSQL).
    os.environ.pop("NEPHRO_JOBS_BACKEND", None)
    os.environ.update(
        DATABASE_URL=url,
        NEPHRO_DEMO="true",
        NEPHRO_VAR_DIR=var_dir,
        NEPHRO_ALLOWED_HOSTS="testserver",
        DJANGO_SETTINGS_MODULE="nephro.settings",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def fill(exams: int) -> None:
    from django.utils import timezone
    from pydicom.uid import generate_uid

    from nephro.accounts.models import User
    from nephro.exams.models import Exam, Order
    from nephro.patients.models import Patient
    from nephro.reports.models import Report

    if Exam.objects.count() >= exams:
        return
    referrer = User.objects.create(username="bench-ref", role="referrer")
    patients = Patient.objects.bulk_create(
        [
            Patient(
                mrn=f"B{n:08d}",
                family_name=f"Family{n % 997}",
                given_name="Given",
                birth_date=date(1950, 1, 1) + timedelta(days=n % 20000),
                sex="FM"[n % 2],
            )
            for n in range(exams // 2 + 1)
        ],
        batch_size=BATCH,
    )
    states = ["ordered", "scheduled", "completed", "reported", "follow_up", "closed"]
    now = timezone.now()
    for start in range(0, exams, BATCH):
        numbers = range(start, min(start + BATCH, exams))
        orders = Order.objects.bulk_create(
            [
                Order(
                    patient=patients[n // 2],
                    referrer=referrer,
                    created_by=referrer,
                    indication="routine",
                    clinical_question="Routine check",
                )
                for n in numbers
            ]
        )
        made = Exam.objects.bulk_create(
            [
                Exam(
                    order=order,
                    patient_id=order.patient_id,
                    side="left",
                    accession_number=f"A{n:09d}",
                    study_instance_uid=generate_uid(),
                    state=states[n % len(states)],
                    started_at=now,
                    completed_at=now,
                )
                for n, order in zip(numbers, orders, strict=True)
            ]
        )
        Report.objects.bulk_create(
            [
                Report(
                    exam=exam,
                    technique="t",
                    findings_text="f",
                    impression="i",
                    status="final",
                    signed_at=now,
                )
                for exam in made[::3]
            ]
        )


def token() -> str:
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, Application

    app = Application.objects.create(
        name="bench",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    raw = f"bench-{time.time_ns()}"
    AccessToken.objects.create(
        application=app,
        token=raw,
        scope="system/*.read",
        expires=timezone.now() + timedelta(hours=2),
    )
    return raw


def searches() -> dict[str, str]:
    from nephro.exams.models import Exam

    exam = Exam.objects.order_by("-pk").first()
    return {
        "ServiceRequest by patient": f"/fhir/ServiceRequest?patient={exam.patient_id}",
        "ServiceRequest by accession": f"/fhir/ServiceRequest?identifier={exam.accession_number}",
        "ServiceRequest active, page of 50": "/fhir/ServiceRequest?status=active&_count=50",
        "ServiceRequest active, 3rd page": (
            "/fhir/ServiceRequest?status=active&_count=50&_offset=100"
        ),
        "DiagnosticReport by patient + results": (
            f"/fhir/DiagnosticReport?patient={exam.patient_id}&_include=DiagnosticReport:result"
        ),
        "DiagnosticReport issued this year, page of 20": (
            f"/fhir/DiagnosticReport?issued=ge{date.today().year}-01-01&_count=20"
        ),
        "Patient by MRN": f"/fhir/Patient?identifier={exam.patient.mrn}",
    }


def measure(runs: int) -> dict[str, dict[str, float]]:
    from django.test import Client

    client, bearer = Client(), token()
    results = {}
    for name, url in searches().items():
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {bearer}")
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (url, response.content[:300])
        times.sort()
        results[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        }
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exams", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    var_dir = tempfile.mkdtemp(prefix="fhir-bench-")
    url = args.database_url or f"sqlite:///{var_dir}/bench.sqlite3"
    setup(url, var_dir)
    t0 = time.perf_counter()
    fill(args.exams)
    filled_s = round(time.perf_counter() - t0, 1)
    results = measure(args.runs)
    summary = {"exams": args.exams, "runs": args.runs, "fill_s": filled_s, "searches": results}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.exams} exams ({url.split(':')[0]}), filled in {filled_s} s, {args.runs} runs")
        for name, figures in results.items():
            flag = "" if figures["p95_ms"] <= TARGET_P95_MS else f"  (over {TARGET_P95_MS} ms)"
            p50, p95 = figures["p50_ms"], figures["p95_ms"]
            print(f"  {name:48} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms{flag}")
    return summary


if __name__ == "__main__":
    main()
