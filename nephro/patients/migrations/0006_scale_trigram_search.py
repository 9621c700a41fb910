"""Trigram indexes for the patient and exam search (patients/search.py): any part of a
family name, given name or MRN, any case. Django's ``__icontains`` runs
``UPPER(col::text) LIKE UPPER('%word%')`` on PostgreSQL, which a B-tree cannot serve;
a GIN index of ``UPPER(col)`` with pg_trgm's operator class can (at 700,000 patients a
search reads a few index pages instead of every row: bench/scale.py).

PostgreSQL only (pg_trgm is a trusted extension from PostgreSQL 13: the database owner
may create it); SQLite, the single-machine default, has no such index: a no-op there.
"""

from django.db import migrations

COLUMNS = {"family": "family_name", "given": "given_name", "mrn": "mrn"}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in COLUMNS.items():
        schema_editor.execute(
            f'CREATE INDEX "patients_{name}_trgm" ON "patients_patient" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "patients_{name}_trgm"')


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0005_merge_by_system_and_reversal"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
