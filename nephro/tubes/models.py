from datetime import date, timedelta

from django.conf import settings
from django.db import models

from nephro.patients.models import Patient


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"


class TubeKind(models.TextChoices):
    NEPHROSTOMY = "nephrostomy", "Nephrostomy (PCN)"
    NEPHROURETERAL = "nephroureteral", "Nephroureteral (internal-external)"


class TubeStatus(models.TextChoices):
    IN_PLACE = "in_place", "In place"
    CAPPED = "capped", "Capped (clamp trial)"
    REMOVED = "removed", "Removed"


def default_exchange_interval() -> int:
    # Every 3 months [RPX]; 3-6 months set by the urologist [ST] (clinical.md section 8).
    return settings.NEPHRO_TUBE_EXCHANGE_DAYS


class Tube(models.Model):
    """One nephrostomy tube in the registry, so no tube is ever forgotten."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="tubes")
    side = models.CharField(max_length=5, choices=Side.choices)
    kind = models.CharField(max_length=20, choices=TubeKind.choices, default=TubeKind.NEPHROSTOMY)
    size_fr = models.PositiveSmallIntegerField("size (Fr)")
    placed_on = models.DateField()
    last_exchange_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=TubeStatus.choices, default=TubeStatus.IN_PLACE
    )
    exchange_interval_days = models.PositiveSmallIntegerField(default=default_exchange_interval)
    exchange_due_on = models.DateField()
    removed_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    # The registering form's one-time token (nephro.lib.once).
    submission = models.UUIDField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["exchange_due_on"]
        # The due list (services.tubes_due) reads the tubes still in, by due date: an
        # index of those only (most tubes of a group's history are out).
        indexes = [
            models.Index(
                fields=["exchange_due_on"],
                condition=~models.Q(status=TubeStatus.REMOVED),
                name="tube_due_in_place",
            )
        ]

    def __str__(self) -> str:
        kind = self.get_kind_display()  # lower-case the first letter only: "(PCN)" stays
        return f"{self.get_side_display()} {self.size_fr} Fr {kind[:1].lower()}{kind[1:]}"

    @property
    def audit_patient(self) -> Patient:
        return self.patient

    @property
    def is_active(self) -> bool:
        return self.status != TubeStatus.REMOVED

    def next_due_from(self, day: date) -> date:
        return day + timedelta(days=self.exchange_interval_days)

    def due_state(self, today: date) -> str:
        """'overdue', 'due_soon' or 'ok' for an active tube; '' once removed."""
        if not self.is_active:
            return ""
        if self.exchange_due_on < today:
            return "overdue"
        if self.exchange_due_on <= today + timedelta(days=settings.NEPHRO_TUBE_DUE_SOON_DAYS):
            return "due_soon"
        return "ok"


class TrialOutcome(models.TextChoices):
    ONGOING = "ongoing", "Ongoing"
    PASSED = "passed", "Passed (tolerated)"
    FAILED = "failed", "Failed"


class FailureReason(models.TextChoices):
    """Why a clamp trial failed: the failures of the published series [MY] (clinical.md 5)."""

    LEAK = "leak", "Leak"
    FEVER = "fever", "Fever"
    PAIN = "pain", "Pain"
    CREATININE = "creatinine", "Rising creatinine"
    HEMATURIA = "hematuria", "Blood in the urine"
    NAUSEA = "nausea", "Nausea or vomiting"


class CappingTrial(models.Model):
    """A clamp trial: the tube is capped to see whether the kidney drains on its own.

    Failures in the published series were leak, creatinine rise, fever/hematuria and
    nausea [MY] (clinical.md section 5).
    """

    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="capping_trials")
    started_on = models.DateField()
    planned_end_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(
        max_length=10, choices=TrialOutcome.choices, default=TrialOutcome.ONGOING
    )
    failure_reasons = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    # The starting form's one-time token (nephro.lib.once).
    submission = models.UUIDField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-started_on"]

    @property
    def audit_patient(self) -> Patient:
        return self.tube.patient

    def failure_labels(self) -> list[str]:
        return [FailureReason(r).label for r in self.failure_reasons if r in FailureReason.values]

    def is_overdue(self, today: date) -> bool:
        return self.outcome == TrialOutcome.ONGOING and self.planned_end_on < today
