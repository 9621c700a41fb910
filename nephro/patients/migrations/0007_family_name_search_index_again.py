"""The worklist's family-name index (patients/migrations/0003), again where it was lost.

Worklist Patient Name wildcards narrow by the family name's literal prefix
(``family_name__istartswith``, nephro/dicom/mwl_match.py), which needs the index 0003
made in raw SQL. On SQLite, patients/migrations/0004 rebuilds the patients table
(Django's way of altering a column there) and keeps only the indexes the models declare:
the family-name index was gone and every worklist name query scanned all patients.
Made again here, after the last migration of this app that alters the table, only where
missing (IF NOT EXISTS), under its own name;
tests/dicom/test_mwl_matching.py checks the database uses it.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

INDEX = "patients_patient_family_name_search"
CREATE = {
    "sqlite": f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "patients_patient" '
    '("family_name" COLLATE NOCASE)',
    "postgresql": (
        f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "patients_patient" '
        '((UPPER("family_name"::text)) text_pattern_ops)'
    ),
}


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    sql = CREATE.get(schema_editor.connection.vendor)
    if sql is not None:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_scale_trigram_search"),
    ]

    # Reversing leaves the index: 0003 owns it.
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
