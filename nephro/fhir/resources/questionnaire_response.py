"""QuestionnaireResponse <-> the pre-test screening answers of an exam
(nephro.screening.Screening) and each answered recovery check-in (nephro.followup.CheckIn).

Ids are ``<exam>-screening`` and ``<exam>-checkin-<n>``. An unanswered question is left out.
"""

from __future__ import annotations

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from nephro.fhir.resources.common import CODES, build, instant, ref

QUESTIONNAIRES = "http://nephro.local/fhir/Questionnaire"


def _answer(value) -> list[dict]:
    if value in (None, "", []):
        return []
    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    if isinstance(value, list):
        return [a for v in value for a in _answer(v)]
    if isinstance(value, tuple):  # (system, code): a coded answer
        return [{"valueCoding": {"system": f"{CODES}/{value[0]}", "code": value[1]}}]
    if hasattr(value, "as_tuple"):  # Decimal
        return [{"valueDecimal": float(value)}]
    return [{"valueString": str(value)}]


def _items(questions: list[tuple[str, str, object]]) -> list[dict]:
    items = []
    for link_id, text, value in questions:
        answers = _answer(value)
        if answers:
            items.append({"linkId": link_id, "text": text, "answer": answers})
    return items


def _response(exam, rid: str, questionnaire: str, authored, items: list[dict], moment):
    return build(
        QuestionnaireResponse,
        {
            "resourceType": "QuestionnaireResponse",
            "id": rid,
            "questionnaire": f"{QUESTIONNAIRES}/{questionnaire}",
            "status": "completed",
            "subject": ref("Patient", exam.patient_id),
            "basedOn": [ref("ServiceRequest", exam.pk)],
            "authored": instant(authored),
            "item": items,
        },
        moment,
    )


def screening(exam) -> list:
    answers = getattr(exam, "screening", None)
    if answers is None:
        return []
    items = _items(
        [
            ("pregnancy", "Could the patient be pregnant?", ("pregnancy", answers.pregnancy)),
            (
                "anticoagulants",
                "Blood thinners taken",
                [("anticoagulant", a) for a in answers.anticoagulants],
            ),
            ("planned-exchange", "Tube exchange planned", answers.planned_exchange),
            ("inr", "INR", answers.inr),
            ("platelets", "Platelets (x10^9/L)", answers.platelets),
            (
                "prior-contrast-reaction",
                "Earlier reaction to contrast",
                answers.prior_contrast_reaction,
            ),
            ("reaction-agent", "Agent of the earlier reaction", answers.reaction_agent),
            ("fever-or-infection", "Fever or signs of infection now", answers.fever_or_infection),
            ("other-allergies", "Other allergies", answers.other_allergies),
        ]
    )
    rid = f"{exam.pk}-screening"
    return [_response(exam, rid, "pre-test", answers.updated_at, items, answers.updated_at)]


def checkins(exam) -> list:
    out = []
    answered = [c for c in exam.checkins.all() if c.answered_at is not None]
    for n, checkin in enumerate(sorted(answered, key=lambda c: c.answered_at), start=1):
        items = _items(
            [
                ("symptoms", "Symptoms", [("symptom", s) for s in checkin.symptoms]),
                ("temperature", "Temperature (C)", checkin.temperature_c),
                ("notes", "Notes", checkin.notes),
                ("by-phone", "Answered by phone", checkin.by_phone),
                ("urgency", "Urgency given by the triage table", ("urgency", checkin.urgency)),
            ]
        )
        rid = f"{exam.pk}-checkin-{n}"
        out.append(
            _response(
                exam, rid, "recovery-checkin", checkin.answered_at, items, checkin.answered_at
            )
        )
    return out


def for_exam(exam) -> list:
    return screening(exam) + checkins(exam)
