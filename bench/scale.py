"""PostgreSQL at a hospital group's size (issue 18). One command, figures printed:

    .venv/bin/python bench/scale.py [--exams 1000000] [--audit 10000000] [--runs 30]
        [--database-url postgres://postgres@127.0.0.1:5432/nephro_scale] [--drop]

Creates its own database (migrated like production), fills it once with bulk SQL
(INSERT ... SELECT over generate_series, COPY for the hash-chained audit trail): 50
hospitals over 5 years, patients (0.7 per exam), orders, exams, screenings, flags,
reports, tubes, and the audit events with a valid chain. Then times the hot paths through
the real views (Django's test client, so middleware, the audit write and the template
count) and the MWL query as the listener runs it, EXPLAINs every SELECT they ran (a
sequential scan on a big table is reported), and verifies the audit chain in a child
process (time and peak memory). A database kept from an earlier run is migrated (new
indexes built on the filled tables) and timed again: no refill. Either is vacuumed and
analysed first, as autovacuum would have done to years of data. --drop
drops the database at the end (the suite's small run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOSPITALS = 50
YEARS = 5
TARGETS_MS = {"page": 150, "search": 150, "mwl": 100, "tubes": 150, "audit": 300}
BUDGET_S = 30  # a slow path is timed fewer times (at least 3) to keep the run short
BIG_TABLE_ROWS = 20_000  # a sequential scan on a table larger than this is reported
FAMILY = ["Nowak", "Garcia", "Smith", "Jones", "Kim", "Nguyen", "Rossi", "Muller", "Silva"]
GIVEN = ["Anna", "Jan", "Maria", "Ali", "Chen", "Sofia", "Omar", "Lena", "Paul", "Rosa"]


def setup(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(
        DATABASE_URL=url,
        NEPHRO_DEMO="true",
        NEPHRO_ALLOWED_HOSTS="testserver",
        DJANGO_SETTINGS_MODULE="nephro.settings",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def drop(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _default_sql(field) -> tuple[str, list]:
    """A column's value when the fill does not choose one: the model's own default."""
    from django.db import connection, models

    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return "now()", []
    if isinstance(field, models.UUIDField):
        return ("gen_random_uuid()" if field.unique else "NULL"), []
    if field.has_default():
        return "%s", [field.get_db_prep_save(field.get_default(), connection)]
    if field.null:
        return "NULL", []
    if isinstance(field, models.CharField | models.TextField):
        return "''", []
    raise SystemExit(f"scale.py: choose a value for {field.model.__name__}.{field.name}")


def insert_select(model, source: str, chosen: dict[str, str]) -> int:
    """INSERT INTO the model's table one row per row of ``source`` (SQL over ``g``)."""
    from django.db import connection

    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in chosen:
            continue  # the sequence numbers it
        columns.append(f'"{field.column}"')
        if field.column in chosen:
            values.append(chosen[field.column].replace("%", "%%"))  # SQL modulo, no params
        else:
            sql, extra = _default_sql(field)
            values.append(sql)
            params += extra
    table = model._meta.db_table
    source = source.replace("%", "%%")
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _arr(items) -> str:
    return "ARRAY[" + ",".join(str(i) if isinstance(i, int) else f"'{i}'" for i in items) + "]"


def fill(exams: int, audit: int) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    from nephro.accounts.models import User
    from nephro.exams.models import Exam, Order
    from nephro.patients.models import Patient
    from nephro.reports.models import Report
    from nephro.screening.models import Flag, Screening
    from nephro.tubes.models import Tube

    started = time.perf_counter()
    users = [
        User(username=f"{role[:3]}{h:02d}{i}", role=role, first_name=role.title())
        for h in range(HOSPITALS)
        for role, count in (("referrer", 20), ("nurse", 3), ("technologist", 3), ("radiologist", 2))
        for i in range(count)
    ]
    User.objects.bulk_create([*users, User(username="scale-admin", role="admin")])
    refs = _arr(list(User.objects.filter(role="referrer").values_list("pk", flat=True)))
    patients = max(1, exams * 7 // 10)
    span_s = YEARS * 365 * 86400
    # Exam g is scheduled at t(g): evenly over five years, the last 30 days ahead of now.
    t = (
        f"(now() - interval '{span_s - 30 * 86400} seconds'"
        f" + (g - 1) * interval '{span_s / exams} seconds')"
    )
    tubes = max(1, exams // 4)
    removed = f"g <= {tubes - 2500}"  # all but 2,500 tubes are out; those are due over 97 days
    past = f"{t} < now() - interval '2 hours'"
    pid = f"(1 + (g - 1) % {patients})"
    steps = [
        (
            Patient,
            f"generate_series(1, {patients}) g",
            {
                "id": "g",
                "mrn": "'S' || lpad(g::text, 9, '0')",
                "family_name": f"({_arr(FAMILY)})[1 + g % {len(FAMILY)}] || (g % 997)",
                "given_name": f"({_arr(GIVEN)})[1 + (g / 7) % {len(GIVEN)}]",
                "birth_date": "date '1935-01-01' + (g * 37) % 29000",
                "sex": "CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END",
            },
        ),
        (
            Order,
            f"generate_series(1, {exams}) g",
            {
                "id": "g",
                "patient_id": pid,
                "referrer_id": f"({refs})[1 + g % {HOSPITALS * 20}]",
                "created_by_id": f"({refs})[1 + g % {HOSPITALS * 20}]",
                "indication": "'routine'",
                "clinical_question": "'Is the tube draining?'",
                "created_at": f"{t} - interval '7 days'",
            },
        ),
        (
            Exam,
            f"generate_series(1, {exams}) g",
            {
                "id": "g",
                "order_id": "g",
                "patient_id": pid,
                "side": "CASE WHEN g % 2 = 0 THEN 'left' ELSE 'right' END",
                "accession_number": "'A' || lpad(g::text, 9, '0')",
                "study_instance_uid": "'1.2.826.0.1.3680043.10.2.' || g",
                "state": f"CASE WHEN g % 20 = 0 THEN 'cancelled' WHEN {past} THEN "
                f"(CASE WHEN {t} > now() - interval '3 days' THEN 'reported' ELSE 'closed' END) "
                "WHEN g % 10 = 1 THEN 'ordered' ELSE 'scheduled' END",
                "scheduled_at": f"CASE WHEN g % 10 = 1 AND NOT {past} THEN NULL ELSE {t} END",
                "room": "'Fluoro ' || (1 + g % 2)",
                "modality_ae_title": f"'H' || lpad((g % {HOSPITALS})::text, 2, '0')"
                "|| 'FL' || (1 + g % 2)",
                "completed_at": (
                    f"CASE WHEN {past} AND g % 20 <> 0 THEN {t} + interval '40 minutes' END"
                ),
                "created_at": f"{t} - interval '7 days'",
                "updated_at": t,
            },
        ),
        (Screening, f"generate_series(1, {exams}) g", {"id": "g", "exam_id": "g"}),
        (
            Flag,
            f"generate_series(1, {exams}) g WHERE g % 10 < 3",
            {
                "exam_id": "g",
                "code": "'anticoagulant'",
                "severity": "CASE WHEN g % 50 = 0 THEN 'hold' ELSE 'warn' END",
                "text": "'Takes a blood thinner'",
                "source": "'screening'",
                "active": f"NOT ({past})",
            },
        ),
        (
            Report,
            f"generate_series(1, {exams}) g WHERE g % 20 <> 0 AND {past}",
            {
                "exam_id": "g",
                "technique": "'Contrast through the tube under fluoroscopy.'",
                "findings_text": "'Contrast passes to the bladder.'",
                "impression": "'Tube patent.'",
                "status": "'final'",
                "signed_at": f"{t} + interval '2 hours'",
            },
        ),
        (
            Tube,
            f"generate_series(1, {tubes}) g",
            {
                "id": "g",
                "patient_id": f"(1 + (g * 13) % {patients})",
                "side": "'left'",
                "size_fr": "10",
                "placed_on": "current_date - (g % 1800)",
                "status": f"CASE WHEN {removed} THEN 'removed' ELSE 'in_place' END",
                "exchange_due_on": "current_date + (g % 97) - 3",
                "removed_on": f"CASE WHEN {removed} THEN current_date - (g % 1800) + 60 END",
            },
        ),
    ]
    for model, source, chosen in steps:
        rows = insert_select(model, source, chosen)
        print(
            f"  {model.__name__:10} {rows:>11,} rows  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    fill_audit(audit, exams, patients, span_s)
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(
            no_style(), [User, Patient, Order, Exam, Screening, Flag, Report, Tube]
        ):
            cursor.execute(sql)
        cursor.execute("ANALYZE")
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)


ACTIONS = [
    "exam.read",
    "patient.read",
    "worklist.read",
    "report.read",
    "dicom.store",
    "exam.schedule",
]


def fill_audit(count: int, exams: int, patients: int, span_s: int) -> None:
    """COPY ``count`` events in time order, each hashed onto the one before (a valid chain)."""
    from datetime import UTC, datetime

    from django.db import connection

    from nephro.audit.models import AuditEvent, ChainHead

    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    start = datetime.now(UTC) - timedelta(seconds=span_s)
    step = span_s / max(count, 1)
    previous = "0" * 64
    began = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {AuditEvent._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for seq in range(1, count + 1):
            exam = 1 + (seq * exams // max(count, 1) + seq % 7) % exams
            patient = 1 + (exam - 1) % patients
            event = AuditEvent(
                seq=seq,
                at=start + timedelta(seconds=seq * step),
                username=f"nur{seq % HOSPITALS:02d}{seq % 3}",
                role="nurse",
                action=ACTIONS[seq % len(ACTIONS)],
                object_type="Exam",
                object_id=str(exam),
                patient_ref=patient,
                patient_mrn=f"S{patient:09d}",
                source_address="10.0.0.1",
                detail={},
                prev_hash=previous,
            )
            event.hash = previous = event.compute_hash()
            row = [getattr(event, f.attname) for f in fields]
            copy.write_row([json.dumps(v) if isinstance(v, dict) else v for v in row])
            if seq % 1_000_000 == 0:
                print(f"  audit {seq:>12,}  ({time.perf_counter() - began:.0f} s)", flush=True)
    ChainHead.objects.update_or_create(pk=1, defaults={"last_hash": previous, "count": count})
    print(f"  AuditEvent {count:>11,} rows  ({time.perf_counter() - began:.0f} s)", flush=True)


def seq_scans(sql: str, params, big: set[str]) -> list[str]:
    """The big tables a query's plan reads with a sequential scan."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found, nodes = [], [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in big:
            found.append(node["Relation Name"])
        nodes.extend(node.get("Plans", []))
    return found


def big_tables() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND reltuples > %s",
            [BIG_TABLE_ROWS],
        )
        return {name for (name,) in cursor.fetchall()}


def measure(label: str, kind: str, call, runs: int, big: set[str]) -> bool:
    from django.db import connection

    from bench.queries import selects_of

    selects = selects_of(call)  # warm, and the queries to explain
    scans = sorted({t for sql, params in selects for t in seq_scans(sql, params, big)})
    times: list[float] = []
    in_sql = [0.0]  # of all runs: how much of a page is the database, how much Python

    def clock(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_sql[0] += time.perf_counter() - began

    budget = time.perf_counter() + BUDGET_S
    with connection.execute_wrapper(clock):
        while len(times) < runs and (len(times) < 3 or time.perf_counter() < budget):
            began = time.perf_counter()
            call()
            times.append((time.perf_counter() - began) * 1000)
    p95 = statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]
    ok = p95 < TARGETS_MS[kind] and not scans
    print(
        f"  {label:34} n={len(times):2} median {statistics.median(times):7.1f} ms  "
        f"p95 {p95:7.1f} ms  SQL {in_sql[0] * 1000 / len(times):6.1f} ms/run  "
        f"(< {TARGETS_MS[kind]})  {len(selects):2} queries  "
        f"{'seq scan: ' + ', '.join(scans) if scans else 'no seq scan'}  "
        f"{'ok' if ok else 'MISSED'}",
        flush=True,
    )
    return ok


def cases(exams: int) -> list[tuple[str, str, object]]:
    from django.test import Client
    from django.utils import timezone

    from nephro.accounts.models import User
    from nephro.audit.models import AuditEvent
    from nephro.dicom import mwl, samples

    def client(role: str) -> Client:
        c = Client()
        c.force_login(User.objects.filter(role=role).order_by("pk").first())
        return c

    nurse, referrer, admin, radiologist = map(client, ["nurse", "referrer", "admin", "radiologist"])
    middle = exams // 2
    name = f"{FAMILY[3]}{middle % 997}"  # a family name the fill gave (see Patient)
    patient = 1 + (middle - 1) % max(1, exams * 7 // 10)
    mrn = f"S{patient:09d}"
    today = timezone.localdate()

    def get(c: Client, url: str):
        def call():
            response = c.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return call

    def mwl_today():
        query = samples.worklist_query(
            ScheduledProcedureStepStartDate=f"{today:%Y%m%d}",
            Modality="RF",
            ScheduledStationAETitle="H07FL2",
        )
        return [r.encode(implicit=True) for r in mwl.responses(query)]

    def audit_by_patient_and_date():
        at = AuditEvent.objects.filter(patient_mrn=mrn).values_list("at", flat=True).first()
        since = (at or timezone.now()) - timedelta(days=30)
        found = AuditEvent.objects.filter(
            patient_mrn=mrn, at__range=(since, since + timedelta(days=60))
        )
        return list(found.order_by("-seq")[:200])

    return [
        ("worklist page (nurse)", "page", get(nurse, "/exams/")),
        ("worklist page, today (nurse)", "page", get(nurse, "/exams/?day=today")),
        # Past the pager's exact count (nephro.lib.paging.COUNT_UP_TO): counted to there.
        ("worklist page 40 (nurse)", "page", get(nurse, "/exams/?page=40")),
        ("dashboard (nurse)", "page", get(nurse, "/")),
        ("dashboard (referrer)", "page", get(referrer, "/")),
        ("dashboard (radiologist)", "page", get(radiologist, "/")),
        ("patient search by name", "search", get(nurse, f"/patients/?q={name}+{GIVEN[2]}")),
        ("patient search by MRN", "search", get(nurse, f"/patients/?q={mrn}")),
        ("accession search", "search", get(nurse, f"/patients/?q=A{middle:09d}")),
        ("worklist search by name", "search", get(nurse, f"/exams/?q={name}")),
        ("worklist search by accession", "search", get(nurse, f"/exams/?q=A{middle:09d}")),
        ("MWL C-FIND today, one room", "mwl", mwl_today),
        ("tube due list", "tubes", get(nurse, "/tubes/due/")),
        ("patient list, unfiltered (nurse)", "page", get(nurse, "/patients/")),
        ("audit page by patient (admin)", "audit", get(admin, f"/audit/?mrn={mrn}")),
        ("audit page, unfiltered (admin)", "audit", get(admin, "/audit/")),
        ("audit by patient and date (query)", "audit", audit_by_patient_and_date),
    ]


def verify_chain_in_child() -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "nephro"), "audit", "verify"],
        capture_output=True,
        text=True,
        check=False,
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        f"  audit chain verification: {time.perf_counter() - began:.1f} s, child peak RSS "
        f"{max(peak, before) / 1024:.0f} MB, exit {done.returncode}: "
        f"{done.stdout.strip() or done.stderr.strip()[-200:]}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=None, help="default: 10 per exam")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/nephro_scale")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    audit = args.exams * 10 if args.audit is None else args.audit
    setup(args.database_url)
    from nephro.exams.models import Exam

    have = Exam.objects.count()
    if have not in (0, args.exams):
        raise SystemExit(
            f"{args.database_url} holds {have:,} exams, not {args.exams:,}: drop it first"
        )
    if not have:
        from django.db import transaction

        print(f"filling {args.exams:,} exams and {audit:,} audit events ...", flush=True)
        with transaction.atomic():  # all or nothing: a stopped fill leaves an empty database
            fill(args.exams, audit)
    from django.db import connection

    # As autovacuum would have done to years of data: statistics (also for indexes just
    # migrated) and the visibility map (index-only scans).
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  vacuumed in {time.perf_counter() - began:.0f} s", flush=True)
    print(
        f"\n{args.exams:,} exams, {audit:,} audit events, {args.runs} runs each, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    missed = sum(
        not measure(label, kind, call, args.runs, big_tables())
        for label, kind, call in cases(args.exams)
    )
    verify_chain_in_child()
    print(f"{missed} figure(s) missed")
    if args.drop:
        drop(args.database_url)


if __name__ == "__main__":
    main()
