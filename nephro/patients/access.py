"""Who may see which patients. Every view fetches through this queryset, so an
unrelated referrer or another patient gets a 404, never someone else's record."""

from django.db.models import Q, QuerySet

from nephro.accounts.roles import STAFF, Role
from nephro.patients.models import Patient


def visible_patients(user) -> QuerySet[Patient]:
    if user.role in STAFF:
        return Patient.objects.all()
    if user.role == Role.REFERRER:
        # Through the reverse relations, so patients need not import the exams app.
        return (
            Patient.objects.filter(
                Q(orders__referrer=user) | Q(registered_by=user) | Q(referrers=user)
            )
            .filter(merged_into__isnull=True)
            .distinct()
        )
    if user.role == Role.PATIENT:
        return Patient.objects.filter(user=user)
    return Patient.objects.none()
