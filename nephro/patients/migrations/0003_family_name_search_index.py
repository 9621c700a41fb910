"""An index for case-insensitive prefix searches on the family name (the worklist's
Patient Name wildcards, nephro/dicom/mwl.py), in the form each database can use for
Django's ``family_name__istartswith`` / ``__iexact``:

- SQLite compares LIKE case-insensitively (ASCII) and uses an index for a LIKE prefix
  only when the index collates NOCASE;
- PostgreSQL runs ``UPPER(family_name::text) LIKE UPPER(...)`` and uses an index for a
  LIKE prefix only with the pattern operator class (whatever the database collation).

Neither can be written as a portable ``Meta.indexes`` entry, hence SQL per vendor.
"""

from django.db import migrations

INDEX = "patients_patient_family_name_search"
CREATE = {
    "sqlite": f'CREATE INDEX "{INDEX}" ON "patients_patient" ("family_name" COLLATE NOCASE)',
    "postgresql": (
        f'CREATE INDEX "{INDEX}" ON "patients_patient" '
        '((UPPER("family_name"::text)) text_pattern_ops)'
    ),
}


def create(apps, schema_editor):
    sql = CREATE.get(schema_editor.connection.vendor)
    if sql is not None:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor in CREATE:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_registered_by"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
