"""The recovery triage rules of DESIGN section 6, as one table.

Each row is one symptom the patient can tick: its urgency, what the patient is told,
and the clinical source (clinical.md section 6). The highest urgency among the ticked
symptoms wins. Nothing else in Nephro decides urgency: the check-in service, the
patient's instruction page and the staff triage list all read this table.

Patient-facing text here is written for grade 8 or below (tests/portal/test_readability.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Urgency(models.TextChoices):
    """Ordered from calm to emergency; RANK gives the order."""

    WELL = "well", _("No problems")
    EXPECTED = "expected", _("Expected")
    CONTACT = "contact", _("Call the care team")
    URGENT = "urgent", _("Urgent")
    EMERGENCY = "emergency", _("Emergency")


RANK = {
    Urgency.WELL: 0,
    Urgency.EXPECTED: 1,
    Urgency.CONTACT: 2,
    Urgency.URGENT: 3,
    Urgency.EMERGENCY: 4,
}
# Urgencies that open an alert on the staff triage list, and those that escalate.
ALERTING = frozenset({Urgency.CONTACT, Urgency.URGENT, Urgency.EMERGENCY})
ESCALATING = frozenset({Urgency.URGENT, Urgency.EMERGENCY})

# Fever is 38.0 C / 100.4 F or more [DR] (clinical.md section 6).
FEVER_C = Decimal("38.0")


@dataclass(frozen=True)
class Symptom:
    code: str
    label: str  # the check box the patient ticks
    urgency: str
    advice: str  # what the patient is told when this symptom decides the urgency
    source: str


SYMPTOMS: tuple[Symptom, ...] = (
    Symptom(
        "breathing",
        _("Trouble breathing or swallowing"),
        Urgency.EMERGENCY,
        _("This can be a serious reaction to the dye."),
        "clinical.md 6: nearly all life-threatening reactions come within 20 min [ACRA][FH]",
    ),
    Symptom(
        "fever",
        _("Fever of 38.0 °C (100.4 °F) or more, or chills"),
        Urgency.URGENT,
        _("Call the care team today. A fever can mean an infection."),
        "clinical.md 6: fever >= 38 C / 100.4 F, chills: call [DR]; with vomiting [NU]",
    ),
    Symptom(
        "no_drainage",
        _("Urine has stopped draining through the tube"),
        Urgency.URGENT,
        _("Call the care team now. The opening for the tube can close in about a day."),
        "clinical.md 6: no drainage, call urgently; the tract can close in ~24 h [FH][SH][RPX]",
    ),
    Symptom(
        "tube_moved",
        _("The tube has moved or come out"),
        Urgency.URGENT,
        _("Call the care team now. The opening for the tube can close in about a day."),
        "clinical.md 6: tube moved or out, call urgently (~24 h) [FH][SH][RPX]",
    ),
    Symptom(
        "site",
        _("Redness, swelling, pus or leaking where the tube goes in"),
        Urgency.CONTACT,
        _("Call the care team so they can check the tube site."),
        "clinical.md 6: leak, redness, swelling, discharge at the site: call [FH][SH]",
    ),
    Symptom(
        "urine",
        _("Cloudy urine, or urine that smells bad"),
        Urgency.CONTACT,
        _("Call the care team. This can be a sign of infection."),
        "clinical.md 6: cloudy or foul urine: call [FH]",
    ),
    Symptom(
        "pain",
        _("New pain, or pain that is getting worse"),
        Urgency.CONTACT,
        _("Call the care team about your pain."),
        "clinical.md 6: sudden or uncontrolled pain: call [FH]",
    ),
    Symptom(
        "rash",
        _("Rash or itching"),
        Urgency.CONTACT,
        _(
            "Call the care team. This can be a late reaction to the dye. "
            "It can show up to a week later."
        ),
        "clinical.md 6: late contrast reaction 1 h to 1 week after [ESUR][DR]",
    ),
    Symptom(
        "blood",
        _("Some blood in the urine"),
        Urgency.EXPECTED,
        _("This is common for a day or two. Call us if it lasts longer or gets worse."),
        "clinical.md 6: blood-stained urine expected, clears in 24-48 h [NBT][ST]",
    ),
    Symptom(
        "ache",
        _("A mild ache or pressure near the kidney"),
        Urgency.EXPECTED,
        _("This is normal after the test. It will pass."),
        "DESIGN 6; mild ache or pressure is expected (clinical.md 3 [DR])",
    ),
)

BY_CODE = {s.code: s for s in SYMPTOMS}


def headline(urgency: str) -> str:
    """The first, biggest line the patient sees for this urgency."""
    if urgency == Urgency.EMERGENCY:
        return str(_("Call emergency services now: dial %(number)s.")) % {
            "number": settings.NEPHRO_EMERGENCY_NUMBER
        }
    return str(
        {
            Urgency.URGENT: _("Call the care team now."),
            Urgency.CONTACT: _("Please call the care team."),
            Urgency.EXPECTED: _("This is normal after the test."),
            Urgency.WELL: _("Good. Thank you for telling us."),
        }[urgency]
    )


@dataclass(frozen=True)
class Result:
    urgency: str
    symptoms: tuple[str, ...]  # the codes that decided the urgency
    advice: tuple[str, ...]

    @property
    def headline(self) -> str:
        return headline(self.urgency)

    @property
    def alerts_staff(self) -> bool:
        return self.urgency in ALERTING


def symptoms_with_temperature(codes: list[str], temperature_c: Decimal | None) -> list[str]:
    """A measured fever counts even when the fever box was not ticked."""
    codes = [c for c in codes if c in BY_CODE]
    if temperature_c is not None and temperature_c >= FEVER_C and "fever" not in codes:
        codes.append("fever")
    return codes


def triage(codes: list[str], temperature_c: Decimal | None = None) -> Result:
    """The urgency for these symptoms: the highest wins."""
    ticked = [BY_CODE[c] for c in symptoms_with_temperature(codes, temperature_c)]
    if not ticked:
        return Result(Urgency.WELL, (), ())
    top = max(RANK[s.urgency] for s in ticked)
    deciding = [s for s in ticked if RANK[s.urgency] == top]
    advice: list[str] = []
    for s in deciding:
        if str(s.advice) not in advice:
            advice.append(str(s.advice))
    return Result(deciding[0].urgency, tuple(s.code for s in deciding), tuple(advice))
