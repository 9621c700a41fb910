"""Recovery check-ins, the alerts they raise, and who is on duty (DESIGN section 6)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from nephro.exams.models import Exam
from nephro.followup.triage import BY_CODE, RANK, Urgency
from nephro.patients.models import Patient


class CheckIn(models.Model):
    """One set of answers about how the patient is after the study.

    Scheduled check-ins are created ahead (due_at set, no answers yet) and requested by
    e-mail when due; a patient or nurse may also answer at any time (due_at empty).
    """

    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="checkins")
    # Hours after the study for a scheduled check-in; 0 for one the patient started.
    offset_hours = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A nurse answered on the patient's behalf, on the phone.
    by_phone = models.BooleanField(default=False)
    symptoms = models.JSONField(default=list, blank=True)
    temperature_c = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    notes = models.TextField(blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, blank=True)
    # The answering form's one-time token (nephro.lib.once): a second submit finds this.
    submission = models.UUIDField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-answered_at", "due_at"]
        constraints = [
            # One scheduled check-in per exam and offset, so scheduling is idempotent.
            models.UniqueConstraint(
                fields=["exam", "offset_hours"],
                condition=models.Q(offset_hours__gt=0),
                name="one_scheduled_checkin_per_offset",
            ),
        ]

    def __str__(self) -> str:
        return f"Check-in {self.pk} for {self.exam}"

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    def symptom_labels(self) -> list[str]:
        return [str(BY_CODE[c].label) for c in self.symptoms if c in BY_CODE]


class Action(models.TextChoices):
    """What the nurse did about an alert."""

    CALLED = "called", _("Called the patient: advice given")
    EMERGENCY = "emergency", _("Sent to emergency care")
    CLINIC = "clinic", _("Booked to be seen (clinic or IR)")
    TUBE = "tube", _("Tube check or replacement booked")
    REFERRER = "referrer", _("Referring doctor told")
    NO_ACTION = "no_action", _("No action needed")
    NO_ANSWER = "no_answer", _("Could not reach the patient")


class Alert(models.Model):
    """An answer that needs a person to look at it, open until acknowledged."""

    checkin = models.OneToOneField(CheckIn, on_delete=models.PROTECT, related_name="alert")
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="alerts")
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    raised_at = models.DateTimeField(db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True, db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=12, choices=Action.choices, blank=True)
    note = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["raised_at"]

    def __str__(self) -> str:
        return f"{self.get_urgency_display()} alert {self.pk}"

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    @property
    def rank(self) -> int:
        return RANK[self.urgency]

    @property
    def tries(self) -> list:
        """The failed tries to reach the patient, oldest first (prefetched on triage)."""
        return list(self.attempts.all())


class Duty(models.Model):
    """Whether a radiologist is on duty: escalations go to everyone on duty.

    Radiologists switch themselves on and off on the triage page. When nobody is on
    duty, escalations go to every active radiologist, so an alert is never dropped.
    """

    radiologist = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="duty"
    )
    on_duty = models.BooleanField(default=False)
    since = models.DateTimeField()


class ContactAttempt(models.Model):
    """A try to reach the patient about an alert that failed: the alert stays open."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="attempts")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    note = models.TextField()
    # The acknowledge form's one-time token (nephro.lib.once).
    submission = models.UUIDField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["at"]

    @property
    def audit_patient(self) -> Patient:
        return self.alert.exam.patient
