from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
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
        indexes = [
            # The patient list in its order, a page at a time: at 700,000 patients sorting
            # them all took ~550 ms (bench/scale.py); this index reads just the page.
            models.Index(
                fields=["family_name", "given_name", "id"],
                condition=Q(merged_into__isnull=True),
                name="patient_list_order",
            ),
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
    """Two records of one person made one, with what moved where.

    Made by an administrator on the merge page or by the hospital's ADT^A40 (then
    `merged_by` is empty and `merged_by_component` names the HL7 sender). `moved` lists the
    ids of every row moved from `merged` to `kept`, and `snapshot` the merged record as it
    was, so an administrator can reverse the merge (patients.merge.unmerge); a reversed
    merge keeps its row, marked `reversed_at`, and the record may be merged again.
    """

    kept = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges_in")
    merged = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges_out")
    reason = models.TextField()
    moved = models.JSONField(default=dict)
    snapshot = models.JSONField(default=dict)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    merged_by_component = models.CharField(max_length=200, blank=True)
    merged_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-merged_at", "-pk"]
        constraints = [
            # A record is merged away at most once at a time.
            models.UniqueConstraint(
                fields=["merged"],
                condition=models.Q(reversed_at__isnull=True),
                name="patient_merged_once",
            ),
        ]

    @property
    def merged_by_name(self) -> str:
        """Who merged: the person, or the system component (``hl7:EHR``)."""
        return self.merged_by.get_username() if self.merged_by else self.merged_by_component

    @property
    def audit_patient(self) -> Patient:
        return self.kept
