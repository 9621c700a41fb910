from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from nephro.lib.once import OnceForm, token_field
from nephro.tubes.models import FailureReason, TrialOutcome, Tube, TubeKind, TubeStatus
from nephro.tubes.services import TubeDetails

# Limits that catch typing mistakes (and keep date sums in range), not clinical rules:
# exchange intervals in clinical.md section 8 are 3-6 months [RPX][ST].
OLDEST_YEARS = 100
INTERVAL_DAYS = (1, 366)
DUE_WITHIN_YEARS = 2


def not_in_the_future(day: date | None) -> None:
    if day is None:
        return
    today = timezone.localdate()
    if day > today:
        raise forms.ValidationError("This date cannot be in the future.")
    if day.year < today.year - OLDEST_YEARS:
        raise forms.ValidationError("This date is too long ago: check the year.")


class TubeForm(forms.ModelForm):
    submission = token_field()
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

    def clean_placed_on(self):
        not_in_the_future(self.cleaned_data["placed_on"])
        return self.cleaned_data["placed_on"]

    def clean_last_exchange_on(self):
        not_in_the_future(self.cleaned_data["last_exchange_on"])
        return self.cleaned_data["last_exchange_on"]

    def clean_exchange_interval_days(self):
        days = self.cleaned_data["exchange_interval_days"]
        if not INTERVAL_DAYS[0] <= days <= INTERVAL_DAYS[1]:
            raise forms.ValidationError("The exchange interval is between 1 and 366 days.")
        return days

    def clean_exchange_due_on(self):
        due = self.cleaned_data["exchange_due_on"]
        today = timezone.localdate()
        if due is not None and abs(due.year - today.year) > DUE_WITHIN_YEARS:
            raise forms.ValidationError("The due date must be within two years of today.")
        return due

    def clean(self):
        data = super().clean()
        placed, exchanged = data.get("placed_on"), data.get("last_exchange_on")
        if placed and exchanged and exchanged < placed:
            self.add_error("last_exchange_on", "The last exchange cannot be before placement.")
        interval = data.get("exchange_interval_days")
        if placed and interval and not data.get("exchange_due_on") and not self.errors:
            data["exchange_due_on"] = (exchanged or placed) + timedelta(days=interval)
        return data

    def details(self) -> TubeDetails:
        return TubeDetails(**{f: self.cleaned_data[f] for f in self.Meta.fields})


class NewTubeForm(forms.Form):
    """A tube not in the registry yet, added while linking it to an exam."""

    kind = forms.ChoiceField(choices=TubeKind.choices, required=False)
    size_fr = forms.IntegerField(label="Size (Fr)", required=False)
    placed_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_size_fr(self):
        size = self.cleaned_data["size_fr"]
        if size is not None and not 4 <= size <= 30:
            raise forms.ValidationError("Nephrostomy tubes are 4-30 Fr.")
        return size

    def clean_placed_on(self):
        not_in_the_future(self.cleaned_data["placed_on"])
        return self.cleaned_data["placed_on"]

    def new_tube(self, side: str) -> TubeDetails | None:
        """The new tube's details, or field errors when some are missing."""
        data = self.cleaned_data
        missing = [f for f in ("kind", "size_fr", "placed_on") if data.get(f) in (None, "")]
        for name in missing:
            self.add_error(name, "Needed for a new tube.")
        if missing or self.errors:
            return None
        interval = settings.NEPHRO_TUBE_EXCHANGE_DAYS
        return TubeDetails(
            side=side,
            kind=data["kind"],
            size_fr=data["size_fr"],
            placed_on=data["placed_on"],
            last_exchange_on=None,
            status=TubeStatus.IN_PLACE,
            exchange_interval_days=interval,
            exchange_due_on=data["placed_on"] + timedelta(days=interval),
        )


class CappingStartForm(OnceForm):
    started_on = forms.DateField(label="Start", widget=forms.DateInput(attrs={"type": "date"}))
    planned_end_on = forms.DateField(
        label="Planned end",
        widget=forms.DateInput(attrs={"type": "date"}),
        # Nephroureteral tubes were capped 12-94 days [MY]; after an antegrade stent,
        # 8-12 h [DO](weak) (clinical.md section 5). The team sets the date.
        help_text="Published capping periods range from hours (after a stent) to weeks.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("started_on"), data.get("planned_end_on")
        if start and end and end < start:
            self.add_error("planned_end_on", "The planned end cannot be before the start.")
        return data


class CappingCloseForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[(TrialOutcome.PASSED, "Passed (tolerated)"), (TrialOutcome.FAILED, "Failed")],
        widget=forms.RadioSelect,
    )
    ended_on = forms.DateField(label="Ended on", widget=forms.DateInput(attrs={"type": "date"}))
    failure_reasons = forms.MultipleChoiceField(
        label="Failure reasons",
        choices=FailureReason.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, trial=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.trial = trial

    def clean(self):
        data = super().clean()
        outcome, reasons = data.get("outcome"), data.get("failure_reasons") or []
        if outcome == TrialOutcome.FAILED and not reasons:
            self.add_error("failure_reasons", "Tick at least one reason the trial failed.")
        if outcome == TrialOutcome.PASSED and reasons:
            self.add_error("failure_reasons", "A passed trial has no failure reasons.")
        ended = data.get("ended_on")
        if ended and self.trial is not None and ended < self.trial.started_on:
            self.add_error("ended_on", "The trial cannot end before it started.")
        return data
