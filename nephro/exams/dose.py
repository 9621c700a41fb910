"""Radiation dose: unit normalisation and follow-up flags (DESIGN section 4).

Thresholds (clinical.md section 7):
- Ka,r 3 Gy: first notification, AAPM MPPG 12.a (2022) section 5.3.
- Ka,r 5 Gy: substantial radiation dose level (SRDL), AAPM MPPG 12.a section 5.4;
  SIR also calls Ka,r > 5000 mGy a "significant radiation dose" [CVIR].
No KAP or fluoroscopy-time level is used: MPPG 12.a sets none, and the NCRP 168
values were not verified.

A device's value that differs from the recorded one by more than 10 % of the recorded
value is flagged for the radiologist (MISMATCH_FRACTION: our rule, issue 16, not a
clinical threshold: the two should agree to rounding and display precision).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

KAR_FIRST_NOTICE_MGY = Decimal(3000)  # AAPM MPPG 12.a section 5.3
KAR_SRDL_MGY = Decimal(5000)  # AAPM MPPG 12.a section 5.4; SIR [CVIR]
MISMATCH_FRACTION = Decimal("0.10")  # issue 16: device and recorded value disagree

# Factors to Gy.cm2. Epic stores DAP in dGy.cm2 [EP]; DICOM RDSR uses Gy.m2.
KAP_UNITS: dict[str, Decimal] = {
    "Gy.cm2": Decimal(1),
    "dGy.cm2": Decimal("0.1"),
    "cGy.cm2": Decimal("0.01"),
    "mGy.cm2": Decimal("0.001"),
    "uGy.m2": Decimal("0.01"),
    "Gy.m2": Decimal(10000),
}
KAR_UNITS: dict[str, Decimal] = {"mGy": Decimal(1), "Gy": Decimal(1000), "uGy": Decimal("0.001")}


def to_gy_cm2(value: Decimal, unit: str) -> Decimal:
    return value * KAP_UNITS[unit]


def to_mgy(value: Decimal, unit: str) -> Decimal:
    return value * KAR_UNITS[unit]


@dataclass(frozen=True)
class DoseFlag:
    code: str
    severity: str
    text: str
    source: str


def dose_flags(ka_r_mgy: Decimal | None) -> list[DoseFlag]:
    if ka_r_mgy is None:
        return []
    if ka_r_mgy >= KAR_SRDL_MGY:
        return [
            DoseFlag(
                "DOSE_SRDL",
                "hold",
                f"Reference air kerma {ka_r_mgy:.0f} mGy reached the substantial radiation "
                "dose level (5 Gy): arrange skin follow-up.",
                "AAPM MPPG 12.a (2022) 5.4; SIR",
            )
        ]
    if ka_r_mgy >= KAR_FIRST_NOTICE_MGY:
        return [
            DoseFlag(
                "DOSE_NOTICE",
                "warn",
                f"Reference air kerma {ka_r_mgy:.0f} mGy passed the first notification "
                "level (3 Gy).",
                "AAPM MPPG 12.a (2022) 5.3",
            )
        ]
    return []


def differs(recorded: Decimal, device: Decimal) -> bool:
    """Whether a device's value disagrees with the recorded one (MISMATCH_FRACTION)."""
    return abs(device - recorded) > MISMATCH_FRACTION * abs(recorded)


def usable(value: Decimal) -> bool:
    """A dose, time or area product a device may report: finite and not negative."""
    return value.is_finite() and value >= 0
