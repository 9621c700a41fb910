"""Walks every URL pattern for every role against the one permission table."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from nephro.accounts.permissions import PERMISSIONS, PUBLIC
from nephro.accounts.roles import Role
from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State

ROLE_USER = {
    Role.REFERRER: "referrer",
    Role.NURSE: "nurse",
    Role.TECHNOLOGIST: "tech",
    Role.RADIOLOGIST: "radiologist",
    Role.PATIENT: "patient",
    Role.ADMIN: "admin",
}


def all_url_names(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from all_url_names(entry, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{prefix}{entry.name}", entry


def test_it_lists_every_named_url_in_the_table():
    names = {name for name, _ in all_url_names()}
    unlisted = names - set(PERMISSIONS) - PUBLIC
    assert not unlisted, f"URL names missing from the permission table: {sorted(unlisted)}"
    stale = set(PERMISSIONS) - names
    assert not stale, f"permission entries for URLs that do not exist: {sorted(stale)}"


def _followup_ids(exam):
    """Issue 3 URLs: a check-in, its alert and a capping trial on this exam's tube."""
    from datetime import timedelta

    from django.utils import timezone

    from nephro.followup.models import Alert, CheckIn
    from nephro.tubes.models import CappingTrial

    checkin = exam.checkins.first() or CheckIn.objects.create(
        exam=exam, answered_at=timezone.now(), symptoms=["fever"], urgency="urgent"
    )
    alert = Alert.objects.get_or_create(
        checkin=checkin, defaults={"exam": exam, "urgency": "urgent", "raised_at": timezone.now()}
    )[0]
    today = timezone.localdate()
    trial = exam.tube.capping_trials.first() or CappingTrial.objects.create(
        tube=exam.tube, started_on=today, planned_end_on=today + timedelta(days=2)
    )
    return {
        "checkin_pk": checkin.pk,
        "alert_pk": alert.pk,
        "trial_pk": trial.pk,
        "tube_pk": exam.tube_id,
    }


def _url(name, pattern, exam):
    kwargs = {}
    for key in pattern.pattern.converters:
        kwargs[key] = {
            "pk": exam.pk,
            "patient_pk": exam.patient_id,
            "flag_pk": exam.flags.first().pk,
            **_followup_ids(exam),
        }[key]
    if name == "tubes:edit":
        kwargs["pk"] = exam.tube_id
    if name == "accounts:edit":
        kwargs["pk"] = exam.order.referrer_id
    return reverse(name, kwargs=kwargs)


@pytest.mark.django_db
def test_it_allows_and_denies_every_url_for_every_role(people, make_exam, client):
    exam = make_exam(State.SCREENED, screening_answers={"anticoagulants": ["aspirin"]})
    patterns = [(name, pattern) for name, pattern in all_url_names() if name not in PUBLIC]
    checked = 0
    for role, key in ROLE_USER.items():
        client.force_login(people[key])
        for name, pattern in patterns:
            url = _url(name, pattern, exam)
            response = client.get(url)
            if role in PERMISSIONS[name]:
                assert response.status_code != 403, f"{role} should reach {name}"
                assert response.status_code < 500, f"{name} broke for {role}"
            else:
                assert response.status_code == 403, f"{role} must be refused {name}"
                post = client.post(url, {})
                assert post.status_code == 403, f"{role} must be refused POST {name}"
            checked += 1
    assert checked == len(patterns) * len(ROLE_USER)
    assert AuditEvent.objects.filter(action="access.denied").exists()


@pytest.mark.django_db
def test_it_sends_anonymous_visitors_to_login(people, make_exam, client):
    exam = make_exam(State.SCREENED, screening_answers={"anticoagulants": ["aspirin"]})
    for name, pattern in all_url_names():
        if name in PUBLIC:
            continue
        response = client.get(_url(name, pattern, exam))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name
