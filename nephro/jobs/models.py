"""The embedded engine's job table (nephro.jobs.embedded), and the errors of engine jobs."""

from django.db import models


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed (no attempts left)"
    CANCELLED = "cancelled", "Cancelled"


class Job(models.Model):
    kind = models.CharField(max_length=60)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=9, choices=JobState.choices, default=JobState.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    run_after = models.DateTimeField()
    # Jobs sharing a lock run one at a time; a queueing lock keeps one such job waiting.
    lock = models.CharField(max_length=120, blank=True)
    queueing_lock = models.CharField(max_length=120, blank=True)
    # Set when a worker claims the job; a job running far longer than this is presumed
    # orphaned by a dead worker and is claimed again.
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run_after", "pk"]
        indexes = [models.Index(fields=["state", "run_after"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


class JobError(models.Model):
    """The last error of a Procrastinate job (its own tables keep only the status)."""

    job_id = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=128)
    error = models.TextField()
    at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.kind} #{self.job_id}: {self.error[:60]}"
