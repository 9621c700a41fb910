from django import forms
from django.utils import timezone

from nephro.lib.once import OnceForm
from nephro.patients.models import Patient
from nephro.patients.services import PatientDetails


def _field(name: str, **kwargs) -> forms.Field:
    return Patient._meta.get_field(name).formfield(**kwargs)


FIELDS = ["mrn", "family_name", "given_name", "birth_date", "sex", "phone", "email"]


class PatientForm(OnceForm):
    """A plain form, not a model form: the MRN's uniqueness (in any case) is the
    service's job, with a message that tells a referrer nothing about other patients."""

    mrn = _field("mrn")
    family_name = _field("family_name")
    given_name = _field("given_name")
    birth_date = _field("birth_date", widget=forms.DateInput(attrs={"type": "date"}))
    sex = _field("sex")
    phone = _field("phone")
    email = _field("email")
    different_person = forms.BooleanField(
        required=False,
        widget=forms.HiddenInput,
        label="This is a different person with the same name and date of birth",
    )

    def clean_birth_date(self):
        born = self.cleaned_data["birth_date"]
        today = timezone.localdate()
        if born > today or born.year < today.year - 125:
            raise forms.ValidationError("Enter a real date of birth.")
        return born

    def ask_if_different(self) -> None:
        """Show the confirmation box after a possible duplicate was found."""
        self.fields["different_person"].widget = forms.CheckboxInput()

    def details(self) -> PatientDetails:
        return PatientDetails(**{f: self.cleaned_data[f] for f in FIELDS})


class MergeForm(forms.Form):
    kept_mrn = forms.CharField(label="Keep this record (MRN)", max_length=64)
    merged_mrn = forms.CharField(label="Merge this record into it (MRN)", max_length=64)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    confirm = forms.BooleanField(
        required=False, label="I have checked these are the same person: merge them"
    )
