"""`nephro flush` also empties Procrastinate's tables, which Django leaves alone.

Django flushes only the tables of managed models; Procrastinate's are unmanaged, so its
jobs would outlive the rows they refer to (and leak from one test to the next).
"""

from django.apps import apps
from django.core.management.commands import flush
from django.db import connections

PROMPT = """You have requested a flush of the database.
This will IRREVERSIBLY DESTROY all data currently in the "%s" database,
and return each table to an empty state.
Are you sure you want to do this?

    Type 'yes' to continue, or 'no' to cancel: """
TABLES = "procrastinate_jobs, procrastinate_periodic_defers, procrastinate_events"


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options["database"]]
        if options["interactive"] and input(PROMPT % connection.settings_dict["NAME"]) != "yes":
            self.stdout.write("Flush cancelled.")
            return
        super().handle(**{**options, "interactive": False})
        if apps.is_installed("procrastinate.contrib.django"):
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {TABLES}")
