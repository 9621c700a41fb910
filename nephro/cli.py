"""The `nephro` console command.

`nephro analyze` and `nephro phantom` are pure tools that need no database; everything
else (`serve`, `demo`, `dicom`, `audit verify`, `migrate`, ...) is a Django management
command.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    # Everything Nephro writes (database, DICOM files, thumbnails, analysis pictures,
    # logs) holds patient data: owner-only, 0600 files and 0700 directories.
    os.umask(0o077)
    argv = list(sys.argv if argv is None else argv)
    command = argv[1] if len(argv) > 1 else "help"
    if command == "analyze":
        from nephro.analysis.cli import analyze_main

        return analyze_main(argv[2:])
    if command == "phantom":
        from nephro.analysis.cli import phantom_main

        return phantom_main(argv[2:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nephro.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["nephro", *argv[1:]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
