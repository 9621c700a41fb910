from decimal import Decimal

from django import forms
from django.utils import timezone

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.exams.dose import KAP_UNITS, KAR_UNITS, to_gy_cm2, to_mgy
from nephro.exams.models import Indication, PatientClass, Procedure, Urgency, View
from nephro.exams.services import ProcedureValues
from nephro.lib.once import OnceForm
from nephro.tubes.forms import NewTubeForm
from nephro.tubes.models import Side, TubeStatus

SIDE_CHOICES = [*Side.choices, ("both", "Both (one exam per side)")]


def tube_choice_field(patient, side: str) -> forms.ModelChoiceField:
    """The patient's tubes on this side still in place, the newest first."""
    tubes = patient.tubes.filter(side=side).exclude(status=TubeStatus.REMOVED).order_by("-pk")
    return forms.ModelChoiceField(
        queryset=tubes,
        required=False,
        label=f"{Side(side).label} tube",
        empty_label="None in the registry yet (link it on the exam page)",
        initial=tubes.first(),
    )


class OrderForm(OnceForm):
    side = forms.ChoiceField(choices=SIDE_CHOICES)
    indication = forms.ChoiceField(choices=Indication.choices)
    clinical_question = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    urgency = forms.ChoiceField(choices=Urgency.choices, initial=Urgency.ROUTINE)
    patient_class = forms.ChoiceField(
        label="Patient type",
        choices=PatientClass.choices,
        initial=PatientClass.OUTPATIENT,
        error_messages={"invalid_choice": "Choose outpatient, inpatient or emergency department."},
    )

    referring_physician = forms.ModelChoiceField(queryset=None, required=True)

    def __init__(self, *args, patient, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient, self.user = patient, user
        if user.role == Role.REFERRER:
            del self.fields["referring_physician"]
        else:
            self.fields["referring_physician"].queryset = User.objects.filter(
                role=Role.REFERRER, is_active=True
            ).order_by("last_name")
        for side in Side.values:
            self.fields[f"tube_{side}"] = tube_choice_field(patient, side)
        self.order_fields(["side", "tube_left", "tube_right"])

    def referrer(self):
        if self.user.role == Role.REFERRER:
            return self.user
        return self.cleaned_data["referring_physician"]

    def sides(self) -> list[str]:
        side = self.cleaned_data["side"]
        return [Side.LEFT, Side.RIGHT] if side == "both" else [side]

    def tubes(self) -> dict:
        """The tube chosen for each ordered side (None: not in the registry)."""
        return {side: self.cleaned_data.get(f"tube_{side}") for side in self.sides()}


class ScheduleForm(forms.Form):
    when = forms.DateTimeField(
        label="Date and time", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    room = forms.CharField(max_length=40, initial="Fluoro 1")
    ae_title = forms.RegexField(
        label="Modality AE title",
        regex=r"^[A-Z0-9_ -]{1,16}$",
        max_length=16,
        initial="FLUORO1",
        error_messages={"invalid": "An AE title is 1-16 capital letters, digits, spaces, _ or -."},
    )
    book_anyway = forms.BooleanField(
        required=False,
        widget=forms.HiddenInput,
        label="Book anyway: I know the room is already booked at this time",
    )

    def offer_double_booking(self) -> None:
        """Show the confirmation box once a clash was found."""
        self.fields["book_anyway"].widget = forms.CheckboxInput()

    def clean_when(self):
        when = self.cleaned_data["when"]
        if when < timezone.now() - timezone.timedelta(days=1):
            raise forms.ValidationError("The appointment cannot be in the past.")
        return when


class LinkTubeForm(NewTubeForm):
    """Which registered tube this exam checks, or a new one to add to the registry."""

    NEW = "new"

    def __init__(self, *args, exam, **kwargs):
        super().__init__(*args, **kwargs)
        self.exam = exam
        tubes = exam.patient.tubes.filter(side=exam.side).exclude(status=TubeStatus.REMOVED)
        choices = [(str(t.pk), f"{t}, placed {t.placed_on:%Y-%m-%d}") for t in tubes]
        self.fields["tube"] = forms.ChoiceField(
            label=f"{exam.get_side_display()} tube",
            choices=[*choices, (self.NEW, "A tube not in the registry yet: add it")],
            widget=forms.RadioSelect,
        )
        self.order_fields(["tube"])

    def clean(self):
        data = super().clean()
        if data.get("tube") == self.NEW:
            data["new_tube"] = self.new_tube(self.exam.side)
        return data


class DayForm(forms.Form):
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class CheckInForm(forms.Form):
    mrn = forms.CharField(label="MRN (from the wristband)", max_length=64)
    birth_date = forms.DateField(
        label="Date of birth (as the patient says it)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class ProcedureForm(forms.ModelForm):
    """Dose is typed in any common unit and stored normalised (Gy.cm2, mGy)."""

    views = forms.MultipleChoiceField(
        choices=View.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    kap_value = forms.DecimalField(
        label="Air kerma-area product",
        min_value=0,
        max_digits=12,
        decimal_places=4,
        required=False,
    )
    kap_unit = forms.ChoiceField(
        label="KAP unit",
        choices=[(u, u.replace("cm2", "cm²").replace("m2", "m²")) for u in KAP_UNITS],
        initial="Gy.cm2",
    )
    ka_r_value = forms.DecimalField(
        label="Reference air kerma (Ka,r)",
        min_value=0,
        max_digits=12,
        decimal_places=3,
        required=False,
    )
    ka_r_unit = forms.ChoiceField(
        label="Ka,r unit", choices=[(u, u) for u in KAR_UNITS], initial="mGy"
    )

    class Meta:
        model = Procedure
        fields = [
            "contrast_agent",
            "contrast_concentration_mgi_ml",
            "contrast_volume_ml",
            "views",
            "fluoro_time_s",
            "tolerance",
            "complications",
        ]
        labels = {
            "contrast_concentration_mgi_ml": "Concentration (mgI/mL)",
            "contrast_volume_ml": "Volume (mL)",
            "fluoro_time_s": "Fluoroscopy time (s)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.kap_gy_cm2 is not None:
            self.initial.setdefault("kap_value", self.instance.kap_gy_cm2)
        if self.instance.ka_r_mgy is not None:
            self.initial.setdefault("ka_r_value", self.instance.ka_r_mgy)
        self.fields["contrast_agent"].widget.attrs["list"] = "contrast-agents"

    def clean_contrast_volume_ml(self):
        volume = self.cleaned_data["contrast_volume_ml"]
        if volume is not None and not Decimal(0) < volume <= Decimal(200):
            raise forms.ValidationError("Volume must be between 0 and 200 mL.")
        return volume

    def clean_fluoro_time_s(self):
        seconds = self.cleaned_data["fluoro_time_s"]
        if seconds is not None and not Decimal(0) <= seconds <= Decimal(36000):
            raise forms.ValidationError("Fluoroscopy time must be between 0 and 36000 s.")
        return seconds

    def values(self) -> ProcedureValues:
        """The answers for exams.services.save_procedure, doses in the stored units."""
        data = self.cleaned_data
        kap, ka_r = data.get("kap_value"), data.get("ka_r_value")
        return ProcedureValues(
            **{name: data[name] for name in self.Meta.fields if name != "views"},
            views=tuple(data["views"]),
            kap_gy_cm2=None if kap is None else to_gy_cm2(kap, data["kap_unit"]),
            ka_r_mgy=None if ka_r is None else to_mgy(ka_r, data["ka_r_unit"]),
        )
