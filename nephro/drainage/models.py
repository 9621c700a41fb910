from django.conf import settings
from django.db import models

from nephro.exams.models import Exam
from nephro.patients.models import Patient

VERDICT_CHOICES = [
    ("drains", "Drains"),
    ("delayed", "Delayed"),
    ("obstructed", "Obstructed"),
    ("indeterminate", "Indeterminate"),
]


class AnalysisState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DrainageAnalysis(models.Model):
    """One run of nephro.analysis over an exam's images: a suggestion, never the record."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="drainage_analyses")
    state = models.CharField(
        max_length=8, choices=AnalysisState.choices, default=AnalysisState.QUEUED
    )
    source = models.CharField(max_length=10, default="dicom")  # dicom | upload
    file_count = models.PositiveIntegerField(default=0)
    verdict = models.CharField(max_length=14, choices=VERDICT_CHOICES, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    picture = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A radiologist's correction: the analysis run again on corrected outlines. The
    # analysis it corrects is kept unchanged; the latest one is the current suggestion.
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    outlines = models.JSONField(default=dict, blank=True)  # Outlines.to_json()
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    correction_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def used_outlines(self) -> str:
        """Which outlines the verdict rests on, for the evidence picture and the pages."""
        if self.corrected_by_id is None:
            return "Outlines as found by the analysis"
        when = self.created_at.date().isoformat() if self.created_at else "today"
        return f"Outlines corrected by {self.corrected_by} on {when}"

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient


class ReviewDecision(models.TextChoices):
    CONFIRM = "confirm", "Confirm the suggestion"
    OVERRIDE = "override", "Override it"


class AnalysisReview(models.Model):
    """The radiologist's answer to the suggestion; both kinds are kept."""

    analysis = models.OneToOneField(
        DrainageAnalysis, on_delete=models.CASCADE, related_name="review"
    )
    decision = models.CharField(max_length=8, choices=ReviewDecision.choices)
    verdict = models.CharField(max_length=14, choices=VERDICT_CHOICES)
    reason = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    reviewed_at = models.DateTimeField(auto_now_add=True)

    @property
    def audit_patient(self) -> Patient:
        return self.analysis.exam.patient
