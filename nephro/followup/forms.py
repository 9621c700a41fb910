from django import forms

from nephro.followup.models import Action


class AcknowledgeForm(forms.Form):
    action = forms.ChoiceField(label="Action taken", choices=[("", "Choose…"), *Action.choices])
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="What you found and what you did.",
    )
