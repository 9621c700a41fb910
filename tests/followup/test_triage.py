"""One test per row of the triage table (DESIGN section 6), written out by hand here so a
change to the table has to be made twice, on purpose."""

from decimal import Decimal

import pytest
from django.utils import translation

from nephro.followup.triage import BY_CODE, SYMPTOMS, Urgency, triage

# symptom code -> (urgency, words the patient must see), from DESIGN section 6.
EXPECTED = {
    "breathing": (Urgency.EMERGENCY, "Call emergency services now"),
    "fever": (Urgency.URGENT, "today"),
    "no_drainage": (Urgency.URGENT, "can close in about a day"),
    "tube_moved": (Urgency.URGENT, "can close in about a day"),
    "site": (Urgency.CONTACT, "Call the care team"),
    "urine": (Urgency.CONTACT, "Call the care team"),
    "pain": (Urgency.CONTACT, "Call the care team"),
    "rash": (Urgency.CONTACT, "late reaction to the dye"),
    "blood": (Urgency.EXPECTED, "Call us if it lasts longer or gets worse"),
    "ache": (Urgency.EXPECTED, "It will pass"),
}


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def test_it_has_exactly_the_rows_of_the_design():
    assert set(BY_CODE) == set(EXPECTED)
    assert len(SYMPTOMS) == len(EXPECTED)


@pytest.mark.parametrize("code", list(EXPECTED))
def test_it_maps_each_symptom_to_its_urgency_and_instruction(code):
    urgency, words = EXPECTED[code]
    result = triage([code])
    assert result.urgency == urgency
    assert result.symptoms == (code,)
    assert words in result.headline + " " + " ".join(result.advice)
    assert BY_CODE[code].source, "every rule names its source"


def test_it_lets_the_highest_urgency_win():
    result = triage(["ache", "rash", "fever", "breathing", "blood"])
    assert result.urgency == Urgency.EMERGENCY
    assert result.symptoms == ("breathing",)
    assert result.headline == "Call emergency services now: dial 911."


def test_it_keeps_every_symptom_of_the_winning_level():
    result = triage(["site", "no_drainage", "fever"])
    assert result.urgency == Urgency.URGENT
    assert result.symptoms == ("no_drainage", "fever")
    assert len(result.advice) == 2


def test_it_does_not_repeat_shared_advice():
    assert len(triage(["no_drainage", "tube_moved"]).advice) == 1


def test_it_calls_no_symptoms_well_and_raises_no_alert():
    result = triage([])
    assert result.urgency == Urgency.WELL
    assert not result.alerts_staff


@pytest.mark.parametrize(
    ("temperature", "urgency"),
    [(Decimal("38.0"), Urgency.URGENT), (Decimal("37.9"), Urgency.EXPECTED)],
)
def test_it_treats_a_measured_fever_as_fever(temperature, urgency):
    # 38.0 C is the fever line [DR]; the ticked ache alone is expected.
    assert triage(["ache"], temperature).urgency == urgency


def test_it_alerts_staff_from_contact_upwards_only():
    assert not triage(["blood"]).alerts_staff
    assert triage(["pain"]).alerts_staff


def test_it_speaks_spanish():
    with translation.override("es"):
        assert triage(["breathing"]).headline == "Llame ya a emergencias: marque el 911."
