"""Who may see which patients and exams. Every view fetches through these querysets,
so an unrelated referrer or another patient gets a 404, never someone else's record."""

from django.db.models import Q, QuerySet

from nephro.accounts.roles import STAFF, Role
from nephro.exams.models import Exam
from nephro.patients.models import Patient


def visible_patients(user) -> QuerySet[Patient]:
    if user.role in STAFF:
        return Patient.objects.all()
    if user.role == Role.REFERRER:
        return Patient.objects.filter(Q(orders__referrer=user) | Q(registered_by=user)).distinct()
    if user.role == Role.PATIENT:
        return Patient.objects.filter(user=user)
    return Patient.objects.none()


def visible_exams(user) -> QuerySet[Exam]:
    exams = Exam.objects.select_related("patient", "order", "order__referrer", "tube")
    if user.role in STAFF:
        return exams
    if user.role == Role.REFERRER:
        return exams.filter(order__referrer=user)
    if user.role == Role.PATIENT:
        return exams.filter(patient__user=user)
    return exams.none()
