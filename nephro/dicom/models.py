"""The image index and the modality's performed procedure steps."""

from django.conf import settings
from django.db import models

from nephro.exams.models import Exam
from nephro.patients.models import Patient


class Instance(models.Model):
    """One stored DICOM instance (PS3.3 C.12.1 SOP Common), indexed from its header.

    The file holds the bytes exactly as the sender encoded them; the path is its key in
    the image store (objectstore.py; relative to NEPHRO_DICOM_DIR for files). An
    instance whose accession number and study UID match no exam waits with ``exam``
    empty until staff reconcile it.
    """

    sop_instance_uid = models.CharField(max_length=64, unique=True)
    sop_class_uid = models.CharField(max_length=64)
    study_instance_uid = models.CharField(max_length=64, db_index=True)
    series_instance_uid = models.CharField(max_length=64, db_index=True)
    transfer_syntax_uid = models.CharField(max_length=64)
    modality = models.CharField(max_length=16, blank=True)
    accession_number = models.CharField(max_length=16, blank=True)
    # As sent, for reconciliation; the exam's patient is the record of truth.
    patient_id = models.CharField(max_length=64, blank=True)
    patient_name = models.CharField(max_length=64, blank=True)
    patient_birth_date = models.CharField(max_length=8, blank=True)  # DA, as sent
    study_date = models.CharField(max_length=8, blank=True)
    series_number = models.IntegerField(null=True, blank=True)
    series_description = models.CharField(max_length=64, blank=True)
    instance_number = models.IntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(default=1)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    path = models.CharField(max_length=300)
    size = models.BigIntegerField()
    # Filled in the background: hashing a 100 MB run is no job for the association.
    sha256 = models.CharField(max_length=64, blank=True)
    calling_ae = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    exam = models.ForeignKey(
        Exam, null=True, blank=True, on_delete=models.PROTECT, related_name="instances"
    )
    # Why an instance was not linked automatically (shown on the reconciliation list).
    unmatched_reason = models.CharField(max_length=200, blank=True)
    has_pixels = models.BooleanField(default=False)
    thumbnail = models.CharField(max_length=300, blank=True)
    # What background processing found (for an RDSR: the dose values read).
    processed = models.JSONField(default=dict, blank=True)
    # Indexed by the listener, whose dicom.store audit event (one per batch of an
    # association) and background job are not written yet: set in the same statement
    # that indexes the instance, cleared in the transaction that writes the event, so a
    # crash leaves the instance marked and the next listener audits it
    # (audit_batch.AuditBatch, audit_batch.audit_pending).
    audit_pending = models.BooleanField(default=False)

    class Meta:
        ordering = ["series_number", "series_instance_uid", "instance_number", "pk"]
        indexes = [
            models.Index(fields=["exam", "series_instance_uid"]),
            models.Index(
                fields=["received_at"],
                condition=models.Q(audit_pending=True),
                name="dicom_instance_audit_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.modality} {self.sop_instance_uid}"

    @property
    def audit_patient(self) -> Patient | None:
        return self.exam.patient if self.exam_id else None

    @property
    def is_dose_report(self) -> bool:
        from nephro.dicom.sop import DOSE_REPORT_CLASSES

        return self.sop_class_uid in DOSE_REPORT_CLASSES


class Quarantined(models.Model):
    """A received file refused because an instance with its SOP Instance UID is already
    stored with different content: kept (``path`` under NEPHRO_DICOM_DIR) for review,
    never indexed over the first."""

    sop_instance_uid = models.CharField(max_length=64, db_index=True)
    path = models.CharField(max_length=300)
    size = models.BigIntegerField()
    calling_ae = models.CharField(max_length=16, blank=True)
    peer = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"quarantined {self.sop_instance_uid}"


class DeviceDose(models.Model):
    """Dose a device reported for an exam (RDSR or MPPS), kept as evidence (dose.py).

    It fills the procedure's empty dose fields while the exam is in progress; it never
    replaces a value a person entered, and it changes nothing on a completed or closed
    exam unless a person accepts it (an audited correction). ``outcome`` says which.
    """

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        PARTLY = "partly", "Filled empty values only"
        KEPT = "kept", "Kept as evidence"
        ACCEPTED = "accepted", "Accepted by a person"

    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="device_doses")
    source = models.CharField(max_length=10)  # "rdsr" or "mpps"
    reference = models.CharField(max_length=64)  # the SR's or the MPPS's SOP Instance UID
    calling_ae = models.CharField(max_length=16, blank=True)
    fluoro_time_s = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    kap_gy_cm2 = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    ka_r_mgy = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "pk"]

    def __str__(self) -> str:
        return f"{self.source} dose {self.reference}"

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient


class DoseAlert(models.Model):
    """A dose flag raised for an exam, kept until a person clears it (an audited
    decision): a later, lower value from a device never makes it disappear."""

    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="dose_alerts")
    code = models.CharField(max_length=20)  # DOSE_NOTICE, DOSE_SRDL, DOSE_MISMATCH
    severity = models.CharField(max_length=10)
    text = models.CharField(max_length=300)
    source = models.CharField(max_length=120)
    evidence = models.ForeignKey(DeviceDose, null=True, blank=True, on_delete=models.PROTECT)
    raised_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    clear_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["raised_at", "pk"]

    def __str__(self) -> str:
        return f"{self.code} on exam {self.exam_id}"

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient


class PpsStatus(models.TextChoices):
    IN_PROGRESS = "IN PROGRESS", "In progress"
    COMPLETED = "COMPLETED", "Completed"
    DISCONTINUED = "DISCONTINUED", "Discontinued"


class PerformedStep(models.Model):
    """A Modality Performed Procedure Step (PS3.3 C.4.13-16) reported by N-CREATE/N-SET."""

    sop_instance_uid = models.CharField(max_length=64, unique=True)
    exam = models.ForeignKey(
        Exam, null=True, blank=True, on_delete=models.PROTECT, related_name="performed_steps"
    )
    status = models.CharField(max_length=12, choices=PpsStatus.choices)
    calling_ae = models.CharField(max_length=16, blank=True)
    step_id = models.CharField(max_length=16, blank=True)
    description = models.CharField(max_length=64, blank=True)
    started = models.CharField(max_length=32, blank=True)
    ended = models.CharField(max_length=32, blank=True)
    discontinued_reason = models.CharField(max_length=200, blank=True)
    # What the modality reported (dose, contrast), already normalised.
    reported = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"MPPS {self.sop_instance_uid} ({self.status})"

    @property
    def audit_patient(self) -> Patient | None:
        return self.exam.patient if self.exam_id else None
