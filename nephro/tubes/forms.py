from datetime import timedelta

from django import forms

from nephro.tubes.models import Tube


class TubeForm(forms.ModelForm):
    exchange_due_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty to use the exchange interval (default 3 months).",
    )

    class Meta:
        model = Tube
        fields = [
            "side",
            "kind",
            "size_fr",
            "placed_on",
            "last_exchange_on",
            "status",
            "exchange_interval_days",
            "exchange_due_on",
            "notes",
        ]
        widgets = {
            "placed_on": forms.DateInput(attrs={"type": "date"}),
            "last_exchange_on": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def clean_size_fr(self):
        size = self.cleaned_data["size_fr"]
        if not 4 <= size <= 30:
            raise forms.ValidationError("Nephrostomy tubes are 4-30 Fr.")
        return size

    def clean(self):
        data = super().clean()
        placed, exchanged = data.get("placed_on"), data.get("last_exchange_on")
        if placed and exchanged and exchanged < placed:
            self.add_error("last_exchange_on", "The last exchange cannot be before placement.")
        interval = data.get("exchange_interval_days")
        if placed and interval and not data.get("exchange_due_on"):
            data["exchange_due_on"] = (exchanged or placed) + timedelta(days=interval)
        return data
