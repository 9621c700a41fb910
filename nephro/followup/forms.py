from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from nephro.followup.models import Action
from nephro.followup.services import TEMPERATURE_MAX_C, TEMPERATURE_MIN_C
from nephro.followup.triage import SYMPTOMS
from nephro.lib.once import OnceForm


class AcknowledgeForm(OnceForm):
    action = forms.ChoiceField(label="Action taken", choices=[("", "Choose…"), *Action.choices])
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="What you found and what you did.",
    )


class CheckInForm(OnceForm):
    """How are you? The symptoms of DESIGN section 6, from the triage table."""

    symptoms = forms.MultipleChoiceField(
        label=_("Since the test, have you had any of these? Tick all that apply."),
        choices=[(s.code, s.label) for s in SYMPTOMS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    temperature = forms.DecimalField(
        label=_("Your temperature, if you took it"),
        max_digits=4,
        decimal_places=1,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )
    unit = forms.ChoiceField(
        label=_("Unit"),
        choices=[("C", "°C"), ("F", "°F")],
        initial="C",
    )
    notes = forms.CharField(
        label=_("Anything else you want to tell us"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
    )

    def clean(self):
        data = super().clean()
        value = data.get("temperature")
        if value is not None:
            celsius = value if data.get("unit") != "F" else (value - 32) * 5 / 9
            celsius = Decimal(celsius).quantize(Decimal("0.1"))
            if not TEMPERATURE_MIN_C <= celsius <= TEMPERATURE_MAX_C:
                self.add_error(
                    "temperature",
                    _(
                        "That temperature does not look right. Please check it. "
                        "A body temperature is between 30 and 45 °C (86 and 113 °F)."
                    ),
                )
            data["temperature_c"] = celsius
        else:
            data["temperature_c"] = None
        return data
