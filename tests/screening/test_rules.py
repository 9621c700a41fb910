"""Screening rules and dose flags: one test per rule row."""

from datetime import date
from decimal import Decimal

import pytest

from nephro.exams.dose import dose_flags, to_gy_cm2, to_mgy
from nephro.exams.lifecycle import State
from nephro.screening.models import Screening
from nephro.screening.rules import RULES, evaluate
from tests.conftest import make_patient, staff_answers

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 27)


@pytest.fixture
def answers(make_exam):
    def build(sex="M", born=date(1970, 1, 1), **values):
        exam = make_exam(State.ORDERED, patient=make_patient(sex=sex, born=born))
        screening = Screening(**staff_answers(**values))
        screening.exam = exam
        return {rule.code for rule in evaluate(screening, TODAY)}

    return build


def test_it_has_a_source_for_every_rule():
    assert all(rule.source and rule.text for rule in RULES)
    assert len({rule.code for rule in RULES}) == len(RULES)


@pytest.mark.parametrize(
    "status,fires",
    [
        ("unknown", True),
        ("possible", True),
        ("pregnant", True),
        ("attested_not", False),
        ("test_negative", False),
        ("unable", False),
    ],
)
def test_pregnancy_rule(answers, status, fires):
    assert ("PREGNANCY" in answers(sex="F", born=date(1996, 5, 1), pregnancy=status)) is fires


def test_pregnancy_rule_ignores_men_and_ages_outside_the_range(answers):
    assert "PREGNANCY" not in answers(sex="M", born=date(1996, 5, 1), pregnancy="unknown")
    assert "PREGNANCY" not in answers(sex="F", born=date(1950, 5, 1), pregnancy="unknown")
    assert "PREGNANCY" not in answers(sex="F", born=date(2018, 5, 1), pregnancy="unknown")
    assert "PREGNANCY" in answers(sex="F", born=date(2014, 5, 1), pregnancy="unknown")  # 12


def test_fever_rule(answers):
    assert "FEVER" in answers(fever_or_infection="on")
    assert "FEVER" not in answers()


def test_contrast_reaction_rule(answers):
    fired = answers(
        prior_contrast_reaction="on",
        reaction_agent="Iohexol",
        reaction_description="Hives",
        reaction_timing="2019, within 10 min",
    )
    assert "CONTRAST_REACTION" in fired


@pytest.mark.parametrize(
    "inr,exchange,fires", [("3.1", True, True), ("3.0", True, False), ("4.0", False, False)]
)
def test_inr_rule(answers, inr, exchange, fires):
    values = {"inr": inr, **({"planned_exchange": "on"} if exchange else {})}
    assert ("INR_HIGH" in answers(**values)) is fires


@pytest.mark.parametrize("platelets,fires", [(19, True), (20, False)])
def test_platelet_rule(answers, platelets, fires):
    assert ("PLATELETS_LOW" in answers(platelets=platelets, planned_exchange="on")) is fires


def test_anticoagulant_and_allergy_rules(answers):
    fired = answers(anticoagulants=["warfarin"], other_allergies="Latex")
    assert {"ANTICOAGULANT", "OTHER_ALLERGY"} <= fired


@pytest.mark.parametrize(
    "kar,code",
    [
        (None, None),
        (Decimal(2999), None),
        (Decimal(3000), "DOSE_NOTICE"),
        (Decimal(4999), "DOSE_NOTICE"),
        (Decimal(5000), "DOSE_SRDL"),
    ],
)
def test_dose_flags(kar, code):
    flags = dose_flags(kar)
    assert [f.code for f in flags] == ([code] if code else [])


def test_dose_units():
    assert to_gy_cm2(Decimal(25), "dGy.cm2") == Decimal("2.5")
    assert to_gy_cm2(Decimal("0.0002"), "Gy.m2") == Decimal(2)
    assert to_mgy(Decimal("3.2"), "Gy") == Decimal(3200)
