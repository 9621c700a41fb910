from django import forms

from nephro.reports.models import DispositionChoice, Findings, Report


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
        if data.get("obstruction_cause") and not data.get("obstruction_level"):
            self.add_error("obstruction_level", "Give the level of the obstruction.")
        if data.get("bladder") == "none" and data.get("bladder_time_min") is not None:
            self.add_error("bladder_time_min", "No contrast reached the bladder: leave empty.")
        return data


class ReportTextForm(forms.ModelForm):
    class Meta:
        model = Report
        fields = ["technique", "findings_text", "impression"]
        widgets = {name: forms.Textarea(attrs={"rows": 4}) for name in fields}


class AddendumForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class DispositionForm(forms.Form):
    decision = forms.ChoiceField(choices=DispositionChoice.choices, widget=forms.RadioSelect)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
