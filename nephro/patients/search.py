"""Finding patients and exams by what people type: a full name in any order ("Nowak
Anna", "anna nowak", "Nowak, A"), an MRN (any case) or an accession number."""

from __future__ import annotations

import re

from django.db.models import Q


def terms(query: str) -> list[str]:
    return [t for t in re.split(r"[\s,;^]+", query.strip()) if t]


def matching(query: str, *, patient: str = "", accession: str) -> Q:
    """A filter for `query`. `patient` is the path to the patient ("" on Patient itself,
    "patient__" on Exam); `accession` the path to the accession number."""
    words = terms(query)
    if not words:
        return Q()
    every_word_in_the_name = Q()
    for word in words:
        every_word_in_the_name &= Q(**{f"{patient}family_name__icontains": word}) | Q(
            **{f"{patient}given_name__icontains": word}
        )
    return (
        every_word_in_the_name
        | Q(**{f"{patient}mrn__icontains": query.strip()})
        | Q(**{accession: query.strip()})
    )
