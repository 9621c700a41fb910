"""Findings that contradict each other, as one table of rules with their sources.

Checked before findings are saved and again before a report is signed, so a report never
says "UPJ: no passage" beside "drains promptly to the bladder". Sources are the keys of
clinical.md (section 4, findings taxonomy): [NU] contrast passes UPJ -> ureter -> UVJ
into the bladder; [YH][DO] an obstruction is recorded with its level and cause; [KM][DO]
extravasation/leak and fistula. (inf) marks a rule inferred from them, not stated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

NONE = "none"
PASSES = ("free", "delayed")
IN_BLADDER = ("immediate", "delayed")
URETER_LEVELS = ("proximal", "mid", "distal")


@dataclass(frozen=True)
class Rule:
    code: str
    broken: Callable[[Mapping], bool]
    message: str
    source: str


def _no_passage(f: Mapping) -> bool:
    return NONE in (f.get("upj_passage"), f.get("ureter_passage"))


RULES: tuple[Rule, ...] = (
    Rule(
        "upj-none-ureter-passes",
        lambda f: f.get("upj_passage") == NONE and f.get("ureter_passage") in PASSES,
        "no passage at the UPJ, yet passage through the ureter: contrast reaches the ureter "
        "only through the UPJ",
        "[NU] passage UPJ -> ureter -> bladder (inf)",
    ),
    Rule(
        "no-passage-bladder-filled",
        lambda f: _no_passage(f) and f.get("bladder") in IN_BLADDER,
        "no passage at the UPJ or through the ureter, yet contrast in the bladder",
        "[NU] passage UPJ -> ureter -> bladder (inf)",
    ),
    Rule(
        "no-passage-no-level",
        lambda f: _no_passage(f) and not f.get("obstruction_level"),
        "no passage is recorded, yet no obstruction: give the level of the obstruction",
        "[YH][DO] an obstruction is recorded by its level (inf)",
    ),
    Rule(
        "upj-obstruction-free-upj",
        lambda f: f.get("obstruction_level") == "upj" and f.get("upj_passage") == "free",
        "an obstruction at the UPJ, yet free passage at the UPJ",
        "[YH][DO] obstruction level; [NU] passage at the UPJ (inf)",
    ),
    Rule(
        "ureter-obstruction-free-ureter",
        lambda f: f.get("obstruction_level") in URETER_LEVELS and f.get("ureter_passage") == "free",
        "an obstruction in the ureter, yet free passage through the ureter",
        "[YH][DO] obstruction level; [NU] passage through the ureter (inf)",
    ),
    Rule(
        "lower-obstruction-upj-blocked",
        lambda f: (
            f.get("obstruction_level") in (*URETER_LEVELS, "uvj") and f.get("upj_passage") == NONE
        ),
        "no passage at the UPJ, yet the obstruction is placed lower down: contrast that "
        "stops at the UPJ shows no lower level",
        "[NU] passage UPJ -> ureter -> UVJ (inf)",
    ),
    Rule(
        "cause-without-level",
        lambda f: bool(f.get("obstruction_cause")) and not f.get("obstruction_level"),
        "a cause of obstruction without its level",
        "[YH][DO] obstruction: level and cause",
    ),
    Rule(
        "time-without-bladder",
        lambda f: f.get("bladder") == NONE and f.get("bladder_time_min") not in (None, ""),
        "a time to the bladder, yet no contrast in the bladder: leave the time empty",
        "[NU] contrast in the bladder, immediate or at 20 min",
    ),
    Rule(
        "fistula-without-leak",
        lambda f: bool(f.get("fistula")) and not f.get("leak"),
        "a fistula, yet no leak or extravasation: a fistula shows as contrast leaving the "
        "collecting system",
        "[KM][DO] extravasation/leak, fistula (inf)",
    ),
)


def contradictions(findings: Mapping) -> list[Rule]:
    """The rules these findings break (field names as on Findings; empty: consistent)."""
    return [rule for rule in RULES if rule.broken(findings)]


def describe(broken: list[Rule]) -> str:
    """One sentence naming every contradiction, for a refusal."""
    return "the findings contradict each other: " + "; ".join(rule.message for rule in broken)
