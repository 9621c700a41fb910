"""What the HL7 v2 interface keeps: every message in, the link from the hospital's order
numbers to ours, and the outbox of results going out."""

from django.db import models

from nephro.exams.models import Exam, Order


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Stored, not yet processed"
    PROCESSED = "processed", "Processed (AA)"
    ERROR = "error", "Refused with a reason (AE)"
    REJECTED = "rejected", "Rejected (AR)"


class InboundMessage(models.Model):
    """One message as received, stored before it is acknowledged; a repeat of the same
    control ID from the same sender is answered with the stored ACK and changes nothing."""

    sending_application = models.CharField(max_length=180, blank=True)
    sending_facility = models.CharField(max_length=180, blank=True)
    control_id = models.CharField("message control ID (MSH-10)", max_length=199, blank=True)
    message_type = models.CharField(max_length=20, blank=True)  # e.g. ORM^O01
    charset = models.CharField(max_length=20, blank=True)  # MSH-18 as sent
    raw = models.TextField()
    peer = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    reason = models.TextField(blank=True)
    ack = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["sending_application", "sending_facility", "control_id"],
                condition=~models.Q(control_id=""),
                name="hl7_one_message_per_control_id",
            )
        ]


class PlacerOrder(models.Model):
    """The hospital's order number (ORC-2 placer order number) for one of our orders."""

    placer_application = models.CharField(max_length=180, blank=True)
    placer_number = models.CharField(max_length=199)
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="placer")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["placer_application", "placer_number"], name="hl7_one_order_per_placer"
            )
        ]


class OutboxState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent and acknowledged"


class OutboundMessage(models.Model):
    """A result message (ORU^R01) waiting for, or past, delivery. Written in the same
    transaction as the signature it reports, so none is lost; retried until acknowledged."""

    key = models.CharField(max_length=60, unique=True)  # what it reports: report:12:final
    event = models.CharField(max_length=12)  # preliminary, final, addendum, disposition
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="hl7_outbox")
    control_id = models.CharField(max_length=40, unique=True)
    raw = models.TextField()
    state = models.CharField(
        max_length=8, choices=OutboxState.choices, default=OutboxState.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    ack_code = models.CharField(max_length=2, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    @property
    def audit_patient(self):
        return self.exam.patient
