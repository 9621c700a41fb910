"""The findings consistency rules: one test per rule, and the doors that apply them."""

import pytest
from django.urls import reverse

from nephro.exams.lifecycle import State
from nephro.reports.consistency import RULES, contradictions
from nephro.reports.models import Findings

# Findings that agree with themselves: free passage, prompt drainage.
GOOD = {
    "tube_position": "pelvis",
    "tube_patency": "patent",
    "hydronephrosis": 1,
    "upj_passage": "free",
    "ureter_passage": "free",
    "bladder": "immediate",
    "bladder_time_min": 2,
    "obstruction_level": "",
    "obstruction_cause": "",
    "filling_defect": "",
    "leak": False,
    "fistula": False,
}

# One case per rule: the findings that break it.
BROKEN = {
    "upj-none-ureter-passes": {"upj_passage": "none", "obstruction_level": "upj"},
    "no-passage-bladder-filled": {
        "upj_passage": "none",
        "ureter_passage": "not_seen",
        "obstruction_level": "upj",
    },
    "no-passage-no-level": {"ureter_passage": "none", "bladder": "none", "bladder_time_min": None},
    "upj-obstruction-free-upj": {
        "obstruction_level": "upj",
        "bladder": "none",
        "bladder_time_min": None,
        "ureter_passage": "not_seen",
    },
    "ureter-obstruction-free-ureter": {
        "obstruction_level": "mid",
        "bladder": "none",
        "bladder_time_min": None,
    },
    "lower-obstruction-upj-blocked": {
        "upj_passage": "none",
        "ureter_passage": "not_seen",
        "bladder": "none",
        "bladder_time_min": None,
        "obstruction_level": "distal",
    },
    "cause-without-level": {"obstruction_cause": "stone"},
    "time-without-bladder": {
        "bladder": "none",
        "obstruction_level": "uvj",
        "ureter_passage": "delayed",
    },
    "fistula-without-leak": {"fistula": True},
}


def test_good_findings_have_no_contradiction():
    assert contradictions(GOOD) == []


def test_every_rule_has_a_case_a_message_and_a_source():
    assert {rule.code for rule in RULES} == set(BROKEN)
    for rule in RULES:
        assert rule.message and rule.source


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_each_rule_finds_its_contradiction(code):
    found = contradictions({**GOOD, **BROKEN[code]})
    assert code in [rule.code for rule in found]


def test_the_issue_example_is_refused_when_saving_findings(make_exam, people, login):
    """'UPJ: no passage' beside 'drains promptly to the bladder' (issue 15)."""
    exam = make_exam(State.COMPLETED)
    data = {**GOOD, "upj_passage": "none", "obstruction_level": "upj", "bladder_time_min": "2"}
    data = {k: v for k, v in data.items() if v not in (False, None)}
    response = login(people["radiologist"]).post(reverse("reports:findings", args=[exam.pk]), data)
    assert response.status_code == 400
    assert "no passage at the UPJ" in response.content.decode()
    assert not Findings.objects.filter(exam=exam).exists()
