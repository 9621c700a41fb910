from django import forms

from nephro.drainage.models import VERDICT_CHOICES, ReviewDecision


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=ReviewDecision.choices, widget=forms.RadioSelect)
    verdict = forms.ChoiceField(
        label="Your verdict (when overriding)",
        choices=[("", "—"), *VERDICT_CHOICES],
        required=False,
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == ReviewDecision.OVERRIDE and not data.get("verdict"):
            self.add_error("verdict", "Choose the verdict you read from the images.")
        return data
