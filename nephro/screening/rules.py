"""Safety screening rules as data (DESIGN section 3).

One table: each rule has a code, a condition over the screening answers, a severity
(info / warn / hold), the text shown, and its source in clinical.md. A hold blocks
scheduling and the start of the exam until a radiologist records a decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings

from nephro.patients.models import Sex
from nephro.screening.models import Pregnancy, Screening, Severity

# SIR 2019, low bleeding-risk procedures (catheter exchange): correct INR to <= 2.0-3.0,
# transfuse platelets below 20 x 10^9/L (clinical.md section 2 [NS][GC][MS]).
INR_LIMIT_LOW_RISK = Decimal("3.0")
PLATELET_LIMIT_LOW_RISK = 20

NEEDS_PREGNANCY_ANSWER = {Pregnancy.UNKNOWN, Pregnancy.POSSIBLE, Pregnancy.PREGNANT}


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    condition: Callable[[Screening, date], bool]
    text: str
    source: str
    # The radiologist must record a decision even if the flag does not block.
    requires_decision: bool = False


def child_bearing_potential(screening: Screening, today: date) -> bool:
    """Ages are configurable: sources differ (RCR 12-50, GOSH >12, a US form 12-55)."""
    patient = screening.exam.patient
    if patient.sex != Sex.FEMALE:
        return False
    age = patient.age_on(today)
    return settings.NEPHRO_PREGNANCY_AGE_MIN <= age <= settings.NEPHRO_PREGNANCY_AGE_MAX


def _pregnancy_unresolved(s: Screening, today: date) -> bool:
    return child_bearing_potential(s, today) and s.pregnancy in NEEDS_PREGNANCY_ANSWER


RULES: tuple[Rule, ...] = (
    Rule(
        "PREGNANCY",
        Severity.HOLD,
        _pregnancy_unresolved,
        "Patient of child-bearing potential has not attested she is not pregnant: a "
        "radiologist decides (pregnancy test, or documented waiver for an urgent exam).",
        "ACR-SPR pregnancy screening practice parameter [ACRP]",
        requires_decision=True,
    ),
    Rule(
        "FEVER",
        Severity.HOLD,
        lambda s, today: s.fever_or_infection,
        "Fever or signs of infection now: defer the study.",
        "clinical.md 1 [NU]; bacteremia after exchange up to 17% [RPX]",
        requires_decision=True,
    ),
    Rule(
        "CONTRAST_REACTION",
        Severity.WARN,
        lambda s, today: s.prior_contrast_reaction,
        "Prior reaction to iodinated contrast: radiologist records a premedication decision.",
        "ACR Manual on Contrast Media [ACRM]; clinical.md 2",
        requires_decision=True,
    ),
    Rule(
        "INR_HIGH",
        Severity.WARN,
        lambda s, today: s.planned_exchange and s.inr is not None and s.inr > INR_LIMIT_LOW_RISK,
        "INR above 3.0 for a planned tube exchange (SIR 2019 low-risk: correct to 2.0-3.0).",
        "SIR 2019 consensus [NS][GC][MS]",
    ),
    Rule(
        "PLATELETS_LOW",
        Severity.WARN,
        lambda s, today: (
            s.planned_exchange and s.platelets is not None and s.platelets < PLATELET_LIMIT_LOW_RISK
        ),
        "Platelets below 20 x10^9/L for a planned tube exchange (SIR 2019: transfuse).",
        "SIR 2019 consensus [NS][GC][MS]",
    ),
    Rule(
        "ANTICOAGULANT",
        Severity.INFO,
        lambda s, today: bool(s.anticoagulants),
        "Takes blood thinners; a tube check or exchange is low bleeding risk, so they are "
        "generally not withheld.",
        "SIR 2019 [HP]",
    ),
    Rule(
        "OTHER_ALLERGY",
        Severity.INFO,
        lambda s, today: bool(s.other_allergies.strip()),
        "Other allergies recorded.",
        "DESIGN section 3",
    ),
)


def evaluate(screening: Screening, today: date) -> list[Rule]:
    """The rules that fire for these answers."""
    return [rule for rule in RULES if rule.condition(screening, today)]
