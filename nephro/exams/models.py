from django.conf import settings
from django.db import models
from django.urls import reverse

from nephro.exams.lifecycle import ON_WORKLIST, State
from nephro.patients.models import Patient
from nephro.tubes.models import Side, Tube


class Indication(models.TextChoices):
    """Who is a candidate for the study (DESIGN section 2; clinical.md section 1 [D][NU])."""

    SUSPECTED_BLOCKAGE = "suspected_blockage", "Suspected blockage of the kidney"
    POST_STONE = "post_stone", "Check after removal of kidney stones"
    ROUTINE = "routine", "Routine check of tube patency/position"
    MALFUNCTION = "malfunction", "Tube malfunction (not draining, leaking, pain)"
    PRE_REMOVAL = "pre_removal", "Assessment before planned tube removal"
    PLACEMENT = "placement", "Check at tube placement"


class Urgency(models.TextChoices):
    ROUTINE = "routine", "Routine"
    SOON = "soon", "Soon (within a week)"
    URGENT = "urgent", "Urgent (today)"


class PatientClass(models.TextChoices):
    """Where the patient comes from for the study: it sets the visit's class in the
    hospital's records (FHIR Encounter.class; HL7 v2 PV1-2), so results file against the
    right visit."""

    OUTPATIENT = "outpatient", "Outpatient"
    INPATIENT = "inpatient", "Inpatient (on a ward)"
    EMERGENCY = "emergency", "Emergency department"


class Order(models.Model):
    """A referral for a nephrostogram; a bilateral order makes one exam per side."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    indication = models.CharField(max_length=30, choices=Indication.choices)
    clinical_question = models.TextField()
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    patient_class = models.CharField(
        max_length=10, choices=PatientClass.choices, default=PatientClass.OUTPATIENT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The order form's one-time token, so a second submit cannot create a twin order.
    submission = models.UUIDField(unique=True, null=True, blank=True)

    def get_absolute_url(self) -> str:
        return self.exams.order_by("pk").first().get_absolute_url()

    @property
    def audit_patient(self) -> Patient:
        return self.patient


class Exam(models.Model):
    """One nephrostogram of one kidney through one tube."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="exams")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="exams")
    side = models.CharField(max_length=5, choices=Side.choices)
    tube = models.ForeignKey(
        Tube, null=True, blank=True, on_delete=models.PROTECT, related_name="exams"
    )
    accession_number = models.CharField(max_length=16, unique=True)
    study_instance_uid = models.CharField(max_length=64, unique=True)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.ORDERED, db_index=True
    )
    held_from = models.CharField(max_length=12, choices=State.choices, blank=True)
    hold_reason = models.TextField(blank=True)
    cancel_reason = models.TextField(blank=True)

    scheduled_at = models.DateTimeField(null=True, blank=True, db_index=True)
    room = models.CharField(max_length=40, blank=True)
    modality_ae_title = models.CharField("modality AE title", max_length=16, blank=True)
    modality = models.CharField(max_length=2, default="RF")

    arrived_at = models.DateTimeField(null=True, blank=True)
    identity_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_at", "pk"]
        # The worklist (dicom/mwl.py) walks this index; with the patient in it, a
        # Patient Name query checks each entry's patient without reading the exam row.
        # The worklist and dashboard pages read the schedule in order, or one day of
        # it (a range on scheduled_at), through the second (bench/scale.py). The nurse's
        # queues (to screen, to schedule: one state, oldest order first) read the third
        # in order, without sorting a state's every exam for a page of them.
        indexes = [
            models.Index(fields=["state", "scheduled_at", "patient"]),
            models.Index(fields=["scheduled_at", "id"], name="exam_schedule_order"),
            models.Index(fields=["state", "created_at", "id"], name="exam_state_arrival"),
        ]

    def __str__(self) -> str:
        return f"{self.accession_number} {self.get_side_display().lower()} nephrostogram"

    def get_absolute_url(self) -> str:
        return reverse("exams:detail", args=[self.pk])

    @property
    def audit_patient(self) -> Patient:
        return self.patient

    @property
    def referrer(self):
        return self.order.referrer

    @property
    def on_worklist(self) -> bool:
        return self.state in ON_WORKLIST


class ChecklistItem(models.TextChoices):
    """The five pre-procedure steps (DESIGN section 2; clinical.md section 3)."""

    HISTORY = "history", "History taken"
    METAL = "metal", "Metal objects removed from chest and abdomen"
    SCOUT = "scout", "Preliminary (scout) film taken"
    BREATHING = "breathing", "Breathing instructions given"
    CONFERRED = "conferred", "Technologist conferred with radiologist"


class ChecklistStep(models.Model):
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="checklist")
    item = models.CharField(max_length=12, choices=ChecklistItem.choices)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    done_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exam", "item"], name="one_tick_per_step"),
        ]
        ordering = ["done_at"]


class View(models.TextChoices):
    SCOUT = "scout", "Scout (control)"
    AP = "ap", "AP supine"
    LPO = "lpo", "Left posterior oblique"
    RPO = "rpo", "Right posterior oblique"
    PRONE = "prone", "Prone"
    ERECT = "erect", "Erect"
    DELAYED = "delayed", "Delayed film (about 20 min)"


class Tolerance(models.TextChoices):
    WELL = "well", "Tolerated well"
    MILD = "mild", "Mild ache or pressure (expected)"
    MODERATE = "moderate", "Moderate pain"
    SEVERE = "severe", "Severe pain: study stopped early"


class Procedure(models.Model):
    """What was done during the study, including radiation dose (DESIGN section 4).

    Doses are stored normalised: KAP in Gy.cm2, reference air kerma in mGy, time in s.
    """

    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="procedure")
    contrast_agent = models.CharField(max_length=60, blank=True)
    contrast_concentration_mgi_ml = models.PositiveSmallIntegerField(null=True, blank=True)
    contrast_volume_ml = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    views = models.JSONField(default=list, blank=True)
    fluoro_time_s = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    kap_gy_cm2 = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    ka_r_mgy = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    dose_source = models.CharField(max_length=10, default="manual")
    tolerance = models.CharField(max_length=10, choices=Tolerance.choices, blank=True)
    complications = models.TextField(blank=True)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient

    def view_labels(self) -> list[str]:
        return [View(v).label for v in self.views if v in View.values]
