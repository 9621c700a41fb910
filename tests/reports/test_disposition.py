"""The tube decision tells the truth about the registry: updated with a tube, not without."""

from nephro.exams.lifecycle import State
from nephro.tubes.models import Tube


def _decide(login, people, exam):
    client = login(people["radiologist"])
    return client.post(
        f"/exams/{exam.pk}/disposition/",
        {"decision": "remove", "reason": "Drains freely"},
        follow=True,
    ).content.decode()


def test_a_decision_on_an_exam_with_a_tube_says_the_registry_was_updated(make_exam, people, login):
    exam = make_exam(State.REPORTED)
    page = _decide(login, people, exam)
    assert "Tube registry updated" in page and "was not updated" not in page
    assert Tube.objects.get(pk=exam.tube_id).status == "removed"


def test_a_decision_without_a_tube_says_nothing_was_updated(make_exam, people, login):
    exam = make_exam(State.REPORTED)
    tube = exam.tube
    exam.tube = None
    exam.save(update_fields=["tube"])
    client = login(people["radiologist"])
    form = client.get(f"/exams/{exam.pk}/disposition/").content.decode()
    assert "will not be updated" in form and f"/exams/{exam.pk}/tube/" in form
    page = _decide(login, people, exam)
    assert "not updated" in page and "Tube registry updated" not in page
    tube.refresh_from_db()
    assert tube.status == "in_place"
