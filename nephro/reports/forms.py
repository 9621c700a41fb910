from django import forms
from django.conf import settings

from nephro.lib.once import OnceForm
from nephro.reports.consistency import contradictions
from nephro.reports.models import DispositionChoice, Findings


class FindingsForm(forms.ModelForm):
    class Meta:
        model = Findings
        fields = [
            "tube_position",
            "tube_patency",
            "hydronephrosis",
            "upj_passage",
            "ureter_passage",
            "bladder",
            "bladder_time_min",
            "obstruction_level",
            "obstruction_cause",
            "filling_defect",
            "leak",
            "fistula",
            "comment",
        ]
        widgets = {"comment": forms.Textarea(attrs={"rows": 2})}

    def clean(self):
        data = super().clean()
        for rule in contradictions(data):
            self.add_error(None, f"These findings contradict each other: {rule.message}.")
        return data


class ReportTextForm(forms.Form):
    """The report text as the radiologist edits it; the sign buttons submit it too."""

    SECTIONS = (
        ("technique", "Technique"),
        ("findings_text", "Findings"),
        ("impression", "Impression"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in self.SECTIONS:
            self.fields[name] = forms.CharField(
                label=label,
                max_length=settings.NEPHRO_REPORT_TEXT_MAX_CHARS,
                widget=forms.Textarea(attrs={"rows": 4}),
            )


class AddendumForm(OnceForm):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class DispositionForm(forms.Form):
    decision = forms.ChoiceField(choices=DispositionChoice.choices, widget=forms.RadioSelect)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
