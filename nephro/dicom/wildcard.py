"""DICOM wildcard matching (PS3.4 C.2.2.2.4) in linear time, without regular expressions.

``*`` matches any run of characters (also none), ``?`` exactly one. A regular expression
of ``.*`` runs backtracks: 20 ``*`` and a ``Z`` against a name took 24 s. Here the pattern
is cut at its ``*`` into literal pieces (which may hold ``?``): the first piece must
match at the start, the last at the end, and each piece between is taken at its leftmost
place after the previous one. Taking the leftmost place is always right (a later place
leaves less room for the rest), so nothing is ever tried twice: the work is at most the
text's length times the longest piece, and the text (a DICOM value) is short.
"""

from __future__ import annotations

from dataclasses import dataclass


def has_wildcards(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def literal_prefix(pattern: str) -> str:
    """What every match starts with (for narrowing in the database)."""
    for index, char in enumerate(pattern):
        if char in "*?":
            return pattern[:index]
    return pattern


def _piece_at(text: str, piece: str, position: int) -> bool:
    if position + len(piece) > len(text):
        return False
    return all(p == "?" or p == t for p, t in zip(piece, text[position:], strict=False))


def _find(text: str, piece: str, start: int) -> int:
    """The leftmost place from ``start`` where ``piece`` matches, or -1."""
    if "?" not in piece:
        return text.find(piece, start)
    for position in range(start, len(text) - len(piece) + 1):
        if _piece_at(text, piece, position):
            return position
    return -1


@dataclass(frozen=True)
class Wildcard:
    """A compiled pattern: ``Wildcard.of("SM?TH*").matches("Smith^John")``. Runs of ``*``
    are one ``*``: the pieces between them are the non-empty ones only."""

    first: str
    middle: tuple[str, ...]
    last: str
    starred: bool  # whether the pattern has a * at all
    ignore_case: bool
    fixed: int  # characters that are not *: the shortest text that can match

    @classmethod
    def of(cls, pattern: str, *, ignore_case: bool = False) -> Wildcard:
        if ignore_case:
            pattern = pattern.casefold()
        pieces = pattern.split("*")
        if len(pieces) == 1:
            return cls(pattern, (), "", False, ignore_case, len(pattern))
        middle = tuple(piece for piece in pieces[1:-1] if piece)
        fixed = len(pieces[0]) + len(pieces[-1]) + sum(len(piece) for piece in middle)
        return cls(pieces[0], middle, pieces[-1], True, ignore_case, fixed)

    def matches(self, text: str) -> bool:
        if self.ignore_case:
            text = text.casefold()
        if len(text) < self.fixed:
            return False  # (cheap, and bounds the work for absurd patterns)
        if not self.starred:
            return len(text) == len(self.first) and _piece_at(text, self.first, 0)
        if not _piece_at(text, self.first, 0):
            return False
        position = len(self.first)
        for piece in self.middle:
            found = _find(text, piece, position)
            if found < 0:
                return False
            position = found + len(piece)
        end = len(text) - len(self.last)
        return end >= position and _piece_at(text, self.last, end)
