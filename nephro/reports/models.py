"""Structured findings, the report, addenda and the tube disposition (DESIGN section 5).

Coded choices follow clinical.md section 4 (findings taxonomy, each with its source).
"""

from django.conf import settings
from django.db import models
from django.urls import reverse

from nephro.exams.models import Exam
from nephro.patients.models import Patient


class TubePosition(models.TextChoices):
    PELVIS = "pelvis", "Pigtail in the renal pelvis"  # [D]
    CALYX = "calyx", "Pigtail in a calyx"  # [NU]
    RETRACTED = "retracted", "Retracted"  # [NU]
    OUT = "out", "Out of the collecting system"  # [NU]


class Patency(models.TextChoices):
    PATENT = "patent", "Patent"
    KINKED = "kinked", "Kinked"
    BLOCKED = "blocked", "Blocked"


class Hydronephrosis(models.IntegerChoices):
    """SFU grade [RP] (clinical.md section 4)."""

    NONE = 0, "SFU 0: none"
    GRADE1 = 1, "SFU 1: mild (renal pelvis only)"
    GRADE2 = 2, "SFU 2: mild (a few calyces)"
    GRADE3 = 3, "SFU 3: moderate, blunted fornices"
    GRADE4 = 4, "SFU 4: severe, ballooned calyces, cortical thinning"


class Passage(models.TextChoices):
    FREE = "free", "Free passage"
    DELAYED = "delayed", "Delayed passage"
    NONE = "none", "No passage"
    NOT_SEEN = "not_seen", "Not assessed"


class Bladder(models.TextChoices):
    IMMEDIATE = "immediate", "Contrast in the bladder on the immediate films"
    DELAYED = "delayed", "Contrast in the bladder only on the delayed (20 min) film"
    NONE = "none", "No contrast in the bladder"


class ObstructionLevel(models.TextChoices):
    NONE = "", "No obstruction"
    UPJ = "upj", "Ureteropelvic junction"
    PROXIMAL = "proximal", "Proximal ureter"
    MID = "mid", "Mid ureter"
    DISTAL = "distal", "Distal ureter"
    UVJ = "uvj", "Ureterovesical junction"


class ObstructionCause(models.TextChoices):
    NONE = "", "Not applicable"
    STONE = "stone", "Stone or fragment"  # [YH][DO]
    CLOT = "clot", "Clot"
    STRICTURE = "stricture", "Stricture"
    EXTRINSIC = "extrinsic", "Tumour or extrinsic compression"
    UNKNOWN = "unknown", "Cause not determined"


class Findings(models.Model):
    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="findings")
    tube_position = models.CharField(max_length=10, choices=TubePosition.choices)
    tube_patency = models.CharField(max_length=10, choices=Patency.choices)
    hydronephrosis = models.PositiveSmallIntegerField(
        "hydronephrosis (SFU grade)", choices=Hydronephrosis.choices
    )
    upj_passage = models.CharField("passage at the UPJ", max_length=10, choices=Passage.choices)
    ureter_passage = models.CharField(
        "passage through the ureter", max_length=10, choices=Passage.choices
    )
    bladder = models.CharField("contrast into the bladder", max_length=10, choices=Bladder.choices)
    bladder_time_min = models.PositiveSmallIntegerField(
        "time to bladder (min)", null=True, blank=True
    )
    obstruction_level = models.CharField(
        max_length=10, choices=ObstructionLevel.choices, blank=True
    )
    obstruction_cause = models.CharField(
        max_length=10, choices=ObstructionCause.choices, blank=True
    )
    filling_defect = models.CharField(
        max_length=10,
        choices=[("", "None"), ("stone", "Stone fragment"), ("clot", "Clot")],
        blank=True,
    )
    leak = models.BooleanField("leak / extravasation", default=False)
    fistula = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PRELIMINARY = "preliminary", "Preliminary"
    FINAL = "final", "Final"


class ReportLocked(Exception):
    """A final report is immutable; changes are addenda."""


class Report(models.Model):
    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="report")
    technique = models.TextField()
    findings_text = models.TextField()
    impression = models.TextField()
    status = models.CharField(
        max_length=12, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    preliminary_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    preliminary_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def save(self, *args, **kwargs):
        # The guard lives on the model too, so no code path can rewrite a signed report.
        if self.pk is not None:
            stored = Report.objects.filter(pk=self.pk).values("status").first()
            if stored and stored["status"] == ReportStatus.FINAL:
                raise ReportLocked("a final report cannot be changed; add an addendum")
        super().save(*args, **kwargs)

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient

    @property
    def is_final(self) -> bool:
        return self.status == ReportStatus.FINAL


class Addendum(models.Model):
    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="addenda")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    # The form's one-time token (nephro.lib.once): Back + send again adds nothing.
    submission = models.UUIDField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def get_absolute_url(self) -> str:
        return reverse("reports:view", args=[self.report.exam_id]) + "#addenda"


class DispositionChoice(models.TextChoices):
    """What happens to the tube (clinical.md section 5)."""

    REMOVE = "remove", "Remove the tube"  # [NU][BI]
    CAP = "cap", "Cap the tube (clamp trial)"  # [MY]
    EXCHANGE = "exchange", "Exchange the tube"  # [RPX]
    REPOSITION = "reposition", "Reposition the tube"  # [RPX]
    CONVERT = "convert", "Convert to a nephroureteral tube"  # [WW][CIRSE]
    DRAIN = "drain", "Leave to drainage"  # (inf)


class Disposition(models.Model):
    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="disposition")
    decision = models.CharField(max_length=12, choices=DispositionChoice.choices)
    reason = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    decided_at = models.DateTimeField(auto_now_add=True)

    @property
    def audit_patient(self) -> Patient:
        return self.exam.patient
