from django.conf import settings
from django.db import models

from nephro.exams.models import Exam
from nephro.patients.models import Patient


class Pregnancy(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "Not applicable (male, or outside child-bearing age)"
    UNKNOWN = "unknown", "Not yet asked"
    ATTESTED_NOT = "attested_not", "Patient reasonably attests she is not pregnant"
    UNABLE = "unable", "Unable to conceive"
    TEST_NEGATIVE = "test_negative", "Pregnancy test negative"
    POSSIBLE = "possible", "Possibly pregnant"
    PREGNANT = "pregnant", "Pregnant"


class Source(models.TextChoices):
    STAFF = "staff", "Staff"
    PATIENT = "patient", "Patient questionnaire"


class Anticoagulant(models.TextChoices):
    ASPIRIN = "aspirin", "Aspirin"
    WARFARIN = "warfarin", "Warfarin (Coumadin)"
    NSAID = "nsaid", "NSAIDs / arthritis medicines"
    DOAC = "doac", "DOAC (apixaban, rivaroxaban, dabigatran, edoxaban)"
    CLOPIDOGREL = "clopidogrel", "Clopidogrel or other antiplatelet"
    HEPARIN = "heparin", "Heparin / low-molecular-weight heparin"


# The answer fields of a screening, in the order the staff form asks them; services
# take answers as plain values keyed by these names.
ANSWER_FIELDS = (
    "pregnancy",
    "pregnancy_method",
    "anticoagulants",
    "planned_exchange",
    "inr",
    "platelets",
    "prior_contrast_reaction",
    "reaction_agent",
    "reaction_description",
    "reaction_timing",
    "fever_or_infection",
    "other_allergies",
)


class Screening(models.Model):
    """The safety screening answers for one exam (DESIGN section 3)."""

    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="screening")
    pregnancy = models.CharField(
        max_length=16, choices=Pregnancy.choices, default=Pregnancy.UNKNOWN
    )
    pregnancy_method = models.CharField(
        "how pregnancy status was established", max_length=200, blank=True
    )
    anticoagulants = models.JSONField(default=list, blank=True)
    planned_exchange = models.BooleanField("tube exchange planned", default=False)
    inr = models.DecimalField("INR", max_digits=4, decimal_places=2, null=True, blank=True)
    platelets = models.PositiveIntegerField("platelets (x10^9/L)", null=True, blank=True)
    prior_contrast_reaction = models.BooleanField(default=False)
    reaction_agent = models.CharField(max_length=100, blank=True)
    reaction_description = models.CharField(max_length=200, blank=True)
    reaction_timing = models.CharField(max_length=100, blank=True)
    fever_or_infection = models.BooleanField("fever or signs of infection now", default=False)
    other_allergies = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # A patient's own answers count only once a nurse has reviewed them.
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARN = "warn", "Warning"
    HOLD = "hold", "Hold"


class Decision(models.TextChoices):
    PROCEED = "proceed", "Proceed"
    PREMEDICATE = "premedicate", "Proceed with premedication"
    DEFER = "defer", "Defer (keep on hold)"
    CANCEL = "cancel", "Cancel the exam"


class Flag(models.Model):
    """A raised screening flag. A hold flag blocks the exam until a radiologist decides."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="flags")
    code = models.CharField(max_length=30)
    severity = models.CharField(max_length=5, choices=Severity.choices)
    text = models.TextField()
    source = models.CharField(max_length=200)
    raised_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)
    requires_decision = models.BooleanField(default=False)
    decision = models.CharField(max_length=12, choices=Decision.choices, blank=True)
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-severity", "raised_at"]
        # The worklist's HOLD tag asks, for each exam shown, whether an active hold
        # exists (exams.selectors.worklist): a small index of the active holds only.
        indexes = [
            models.Index(
                fields=["exam"],
                condition=models.Q(active=True, severity=Severity.HOLD),
                name="flag_active_holds",
            )
        ]

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient

    @property
    def decided(self) -> bool:
        return self.decision in (Decision.PROCEED, Decision.PREMEDICATE)

    @property
    def blocking(self) -> bool:
        """An active hold without a radiologist's go-ahead stops scheduling and start."""
        return self.active and self.severity == Severity.HOLD and not self.decided

    @property
    def awaiting_decision(self) -> bool:
        return self.active and self.requires_decision and not self.decided
