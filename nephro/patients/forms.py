from django import forms
from django.utils import timezone

from nephro.patients.models import Patient


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = ["mrn", "family_name", "given_name", "birth_date", "sex", "phone", "email"]
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"})}

    def clean_birth_date(self):
        born = self.cleaned_data["birth_date"]
        today = timezone.localdate()
        if born > today or born.year < today.year - 125:
            raise forms.ValidationError("Enter a real date of birth.")
        return born
