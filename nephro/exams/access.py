"""Who may see which exams (which patients: nephro.patients.access). Every view fetches
through this queryset, so an unrelated referrer or another patient gets a 404."""

from django.db.models import QuerySet

from nephro.accounts.roles import STAFF, Role
from nephro.exams.models import Exam


def visible_exams(user) -> QuerySet[Exam]:
    exams = Exam.objects.select_related("patient", "order", "order__referrer", "tube")
    if user.role in STAFF:
        return exams
    if user.role == Role.REFERRER:
        return exams.filter(order__referrer=user)
    if user.role == Role.PATIENT:
        return exams.filter(patient__user=user)
    return exams.none()
