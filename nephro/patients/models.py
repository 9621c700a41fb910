from datetime import date

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.urls import reverse


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    OTHER = "O", "Other"
    UNKNOWN = "U", "Unknown"


class Patient(models.Model):
    """A person with (or about to have) a nephrostomy tube.

    Two identifiers, as patient-safety practice asks: the MRN, and name plus date of birth.
    """

    mrn = models.CharField("MRN", max_length=64, unique=True)  # and any case: Meta
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
    # Referrers who found this patient by MRN and date of birth (patients.services).
    referrers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="found_patients"
    )
    # Set when an administrator merged this record into another (patients.merge).
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The registering form's one-time token (nephro.lib.once).
    submission = models.UUIDField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            # UX0001 and ux0001 are the same record number.
            models.UniqueConstraint(Upper("mrn"), name="patient_mrn_unique_any_case"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name}"

    def get_absolute_url(self) -> str:
        return reverse("patients:detail", args=[self.pk])

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


class AllergyKind(models.TextChoices):
    CONTRAST = "contrast", "Reaction to iodinated contrast"
    OTHER = "other", "Other allergy"


class Allergy(models.Model):
    """An allergy or contrast reaction, kept on the patient so every exam shows it.

    A contrast reaction names the agent, the reaction and when it happened, never just
    "iodine allergy" [PJ] (clinical.md section 2).
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    kind = models.CharField(max_length=10, choices=AllergyKind.choices)
    agent = models.CharField(max_length=300)
    reaction = models.CharField(max_length=200, blank=True)
    timing = models.CharField(max_length=100, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "recorded_at"]

    def __str__(self) -> str:
        parts = [self.agent, self.reaction, self.timing]
        text = ", ".join(p for p in parts if p)
        return f"contrast: {text}" if self.kind == AllergyKind.CONTRAST else text

    @property
    def audit_patient(self) -> Patient:
        return self.patient


class PatientMerge(models.Model):
    """Two records of one person made one by an administrator, with what moved where.

    `moved` lists the ids of every row moved from `merged` to `kept`, and `snapshot`
    the merged record as it was, so the merge can be understood and undone by hand.
    """

    kept = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges_in")
    merged = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="merge_out")
    reason = models.TextField()
    moved = models.JSONField(default=dict)
    snapshot = models.JSONField(default=dict)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    merged_at = models.DateTimeField(auto_now_add=True)

    @property
    def audit_patient(self) -> Patient:
        return self.kept
