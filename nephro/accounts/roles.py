"""The six roles of DESIGN section 1."""

from django.db import models


class Role(models.TextChoices):
    REFERRER = "referrer", "Referrer"
    NURSE = "nurse", "Nurse"
    TECHNOLOGIST = "technologist", "Technologist"
    RADIOLOGIST = "radiologist", "Radiologist"
    PATIENT = "patient", "Patient"
    ADMIN = "admin", "Administrator"


ALL = frozenset(Role)
STAFF = frozenset({Role.NURSE, Role.TECHNOLOGIST, Role.RADIOLOGIST})
CLINICAL = STAFF | {Role.REFERRER}
