from typing import Any

from django import forms

from nephro.screening.models import ANSWER_FIELDS, Anticoagulant, Decision, Screening


def cleaned_answers(form: forms.ModelForm) -> dict[str, Any]:
    """A screening form's answers as plain values for the screening services."""
    return {
        name: form.cleaned_data[name] for name in form._meta.fields if name in form.cleaned_data
    }


class ScreeningForm(forms.ModelForm):
    anticoagulants = forms.MultipleChoiceField(
        label="Blood thinners",
        choices=Anticoagulant.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Screening
        fields = list(ANSWER_FIELDS)

    def answers(self) -> dict[str, Any]:
        return cleaned_answers(self)

    def clean_inr(self):
        inr = self.cleaned_data["inr"]
        if inr is not None and not 0.5 <= inr <= 15:
            raise forms.ValidationError("INR must be between 0.5 and 15.")
        return inr

    def clean_platelets(self):
        platelets = self.cleaned_data["platelets"]
        if platelets is not None and platelets > 2000:
            raise forms.ValidationError("Platelets are counted in 10^9/L (normal 150-400).")
        return platelets

    def clean(self):
        data = super().clean()
        # Never just "iodine allergy": the agent, reaction and timing are recorded [PJ].
        if data.get("prior_contrast_reaction"):
            for field in ("reaction_agent", "reaction_description", "reaction_timing"):
                if not (data.get(field) or "").strip():
                    self.add_error(field, "Record the agent, the reaction and when it happened.")
        return data


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
