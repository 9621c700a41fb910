"""Finding patients and exams by what people type: a full name in any order ("Nowak
Anna", "anna nowak", "Nowak, A": a word under three letters is the start of a name), an
MRN (any case; any part of it from three characters, else the whole) or an accession
number.

Each kind of match is its own lookup that an index serves (on PostgreSQL the trigram
indexes of patients/migrations/0005 for any part of a name or MRN, the accession
number's unique index), and the rows any of them finds are united (SQL UNION). One
OR across the patient and exam joins would make the database read every row."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

TRIGRAM = 3
"""A word shorter than a trigram is matched at the start of a name (the family name
index serves it), not anywhere in it: no trigram index can serve it, and one or two
letters anywhere match nearly everyone (``q=a`` read every exam of 1,000,000 in 5 s)."""


def terms(query: str) -> list[str]:
    return [t for t in re.split(r"[\s,;^]+", query.strip()) if t]


def matching(rows: QuerySet, query: str, *, patient: str = "", accession: str) -> QuerySet:
    """The `rows` (patients or exams) that `query` finds. `patient` is the path from a
    row to its patient ("" on Patient itself, "patient__" on Exam); `accession` the
    path to the accession number."""
    words = terms(query)
    if not words:
        return rows
    every_word_in_the_name = Q()
    for word in words:
        how = "icontains" if len(word) >= TRIGRAM else "istartswith"
        every_word_in_the_name &= Q(**{f"{patient}family_name__{how}": word}) | Q(
            **{f"{patient}given_name__{how}": word}
        )
    whole = query.strip()
    mrn = "icontains" if len(whole) >= TRIGRAM else "iexact"
    ways = (
        every_word_in_the_name,
        Q(**{f"{patient}mrn__{mrn}": whole}),
        Q(**{accession: whole}),
    )
    found = [rows.model._base_manager.filter(way).order_by().values("pk") for way in ways]
    return rows.filter(pk__in=found[0].union(*found[1:]))
