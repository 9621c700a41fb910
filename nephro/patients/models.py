from datetime import date

from django.conf import settings
from django.db import models


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    OTHER = "O", "Other"
    UNKNOWN = "U", "Unknown"


class Patient(models.Model):
    """A person with (or about to have) a nephrostomy tube.

    Two identifiers, as patient-safety practice asks: the MRN, and name plus date of birth.
    """

    mrn = models.CharField("MRN", max_length=64, unique=True)
    family_name = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    # Set when the patient accepts an invitation to the portal.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient",
    )
    # A referrer sees the patients they registered or referred, and no others.
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registered_patients",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family_name", "given_name"]

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name}"

    @property
    def audit_patient(self) -> "Patient":
        return self

    @property
    def preferred_language(self) -> str:
        """The language of the patient's latest invitation, else the site default."""
        latest = self.invitations.order_by("-created_at").first()
        return latest.language if latest else settings.LANGUAGE_CODE

    @property
    def audit_name(self) -> str:
        """How the trail names this patient when someone acts on their behalf."""
        return f"patient:{self.mrn}"

    @property
    def dicom_name(self) -> str:
        return f"{self.family_name}^{self.given_name}"

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years
