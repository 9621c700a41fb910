"""The SELECTs a piece of code sends, to EXPLAIN them (bench/scale.py and the plan tests)."""

from __future__ import annotations


def selects_of(call) -> list[tuple[str, object]]:
    """Run ``call``; the SELECTs it sent, with their parameters."""
    from django.db import connection

    selects: list[tuple[str, object]] = []

    def keep(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("SELECT"):
            selects.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        call()
    return selects
