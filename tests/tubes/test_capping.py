"""Capping (clamp) trials: start, planned end, outcome and failure reasons [MY]."""

from datetime import timedelta

import pytest
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.tubes import services
from nephro.tubes.models import CappingTrial, TubeStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def tube(make_exam):
    return make_exam(State.SCHEDULED).tube


def _start(people, tube, days=3):
    today = timezone.localdate()
    return services.start_capping_trial(
        Actor(user=people["nurse"]),
        tube.pk,
        started_on=today,
        planned_end_on=today + timedelta(days=days),
    )


def test_starting_a_trial_caps_the_tube(people, tube):
    trial = _start(people, tube)
    tube.refresh_from_db()
    assert tube.status == TubeStatus.CAPPED and trial.outcome == "ongoing"
    assert AuditEvent.objects.filter(action="capping.start", patient_ref=tube.patient_id).exists()


def test_one_trial_at_a_time(people, tube):
    _start(people, tube)
    with pytest.raises(services.TubeError, match="already has a capping trial"):
        _start(people, tube)


def test_a_failed_trial_needs_reasons_and_uncaps_the_tube(people, tube):
    trial = _start(people, tube)
    nurse = Actor(user=people["nurse"])
    today = timezone.localdate()
    with pytest.raises(services.TubeError, match="at least one reason"):
        services.close_capping_trial(
            nurse, trial.pk, outcome="failed", ended_on=today, failure_reasons=[]
        )
    services.close_capping_trial(
        nurse, trial.pk, outcome="failed", ended_on=today, failure_reasons=["leak", "fever"]
    )
    trial.refresh_from_db()
    tube.refresh_from_db()
    assert trial.failure_labels() == ["Leak", "Fever"]
    assert tube.status == TubeStatus.IN_PLACE
    with pytest.raises(services.TubeError, match="already closed"):
        services.close_capping_trial(
            nurse, trial.pk, outcome="passed", ended_on=today, failure_reasons=[]
        )


def test_a_passed_trial_keeps_the_tube_capped(people, tube):
    trial = _start(people, tube)
    services.close_capping_trial(
        Actor(user=people["nurse"]),
        trial.pk,
        outcome="passed",
        ended_on=timezone.localdate(),
        failure_reasons=[],
    )
    tube.refresh_from_db()
    assert tube.status == TubeStatus.CAPPED


@pytest.mark.parametrize(
    ("outcome", "reasons", "message"),
    [
        ("passed", ["pain"], "no failure reasons"),
        ("failed", ["boredom"], "unknown failure reason"),
        ("ongoing", [], "passed or failed"),
    ],
)
def test_it_refuses_inconsistent_outcomes(people, tube, outcome, reasons, message):
    trial = _start(people, tube)
    with pytest.raises(services.TubeError, match=message):
        services.close_capping_trial(
            Actor(user=people["nurse"]),
            trial.pk,
            outcome=outcome,
            ended_on=timezone.localdate(),
            failure_reasons=reasons,
        )


def test_dates_must_make_sense(people, tube):
    today = timezone.localdate()
    with pytest.raises(services.TubeError, match="planned end"):
        services.start_capping_trial(
            Actor(user=people["nurse"]),
            tube.pk,
            started_on=today,
            planned_end_on=today - timedelta(days=1),
        )
    trial = _start(people, tube)
    with pytest.raises(services.TubeError, match="before it started"):
        services.close_capping_trial(
            Actor(user=people["nurse"]),
            trial.pk,
            outcome="passed",
            ended_on=today - timedelta(days=2),
            failure_reasons=[],
        )


def test_the_pages_start_and_close_a_trial(people, tube, login):
    client = login(people["nurse"])
    today = timezone.localdate()
    assert client.get("/tubes/trials/").status_code == 200
    response = client.post(
        f"/tubes/{tube.pk}/trials/new/",
        {"started_on": today, "planned_end_on": today + timedelta(days=7)},
    )
    assert response.status_code == 302
    trial = CappingTrial.objects.get()
    bad = client.post(f"/tubes/trials/{trial.pk}/close/", {"outcome": "failed", "ended_on": today})
    assert bad.status_code == 400 and "Tick at least one reason" in bad.content.decode()
    response = client.post(
        f"/tubes/trials/{trial.pk}/close/",
        {"outcome": "failed", "ended_on": today, "failure_reasons": ["creatinine"]},
    )
    assert response.status_code == 302
    assert "Rising creatinine" in client.get("/tubes/trials/").content.decode()
