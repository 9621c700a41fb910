from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from nephro.accounts.models import User
from nephro.lib.once import OnceForm
from nephro.screening.forms import cleaned_answers
from nephro.screening.models import Anticoagulant, Pregnancy, Screening

# Plain words for the patient; each maps to a screening code the nurse sees (DESIGN 3).
PATIENT_PREGNANCY = [
    (Pregnancy.ATTESTED_NOT, _("No, I am sure I am not pregnant")),
    (Pregnancy.UNABLE, _("No, I cannot become pregnant")),
    (Pregnancy.POSSIBLE, _("I might be, or I am not sure")),
    (Pregnancy.PREGNANT, _("Yes, I am pregnant")),
]
PATIENT_BLOOD_THINNERS = [
    (Anticoagulant.ASPIRIN, _("Aspirin")),
    (Anticoagulant.WARFARIN, _("Coumadin (warfarin)")),
    (Anticoagulant.NSAID, _("Arthritis or pain pills, such as ibuprofen (Advil) or Aleve")),
    (Anticoagulant.DOAC, _("Eliquis, Xarelto, Pradaxa or Savaysa")),
    (Anticoagulant.CLOPIDOGREL, _("Plavix (clopidogrel) or a pill like it")),
    (Anticoagulant.HEPARIN, _("Shots to thin the blood, such as heparin or Lovenox")),
]


class InviteForm(OnceForm):
    email = forms.EmailField(label="Patient's e-mail address")
    language = forms.ChoiceField(label="Language for the patient", choices=settings.LANGUAGES)


class AcceptForm(forms.Form):
    birth_date = forms.DateField(
        label=_("Your date of birth"),
        help_text=_("So we know the link reached you."),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        error_messages={"required": _("Please enter your date of birth.")},
    )
    username = forms.CharField(
        label=_("Choose a user name"),
        max_length=150,
        help_text=_("Letters, numbers and @ . + - _ only."),
        validators=[User.username_validator],
    )
    password1 = forms.CharField(
        label=_("Choose a password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters. Do not use only numbers."),
    )
    password2 = forms.CharField(
        label=_("Type the password again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient

    def clean(self):
        data = super().clean()
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", _("The two passwords do not match."))
        elif one:
            user = User(
                username=data.get("username", ""),
                first_name=getattr(self.patient, "given_name", ""),
                last_name=getattr(self.patient, "family_name", ""),
            )
            try:
                validate_password(one, user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class QuestionnaireForm(forms.ModelForm):
    """The screening questions in the patient's words; a nurse reviews the answers."""

    pregnancy = forms.ChoiceField(
        label=_("Could you be pregnant?"),
        choices=PATIENT_PREGNANCY,
        widget=forms.RadioSelect,
        required=False,
    )
    anticoagulants = forms.MultipleChoiceField(
        label=_("Do you take any of these blood thinners? Tick all that you take."),
        choices=PATIENT_BLOOD_THINNERS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Screening
        fields = [
            "pregnancy",
            "anticoagulants",
            "prior_contrast_reaction",
            "reaction_description",
            "reaction_timing",
            "reaction_agent",
            "fever_or_infection",
            "other_allergies",
        ]
        labels = {
            "prior_contrast_reaction": _("I have had a bad reaction to x-ray dye before"),
            "reaction_description": _("If so, what happened?"),
            "reaction_timing": _("When was it?"),
            "reaction_agent": _("The name of the dye, if you know it"),
            "fever_or_infection": _("I have a fever, or I feel sick with an infection, right now"),
            "other_allergies": _("Other allergies, such as to medicines or latex"),
        }

    def __init__(self, *args, ask_pregnancy: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.ask_pregnancy = ask_pregnancy
        if ask_pregnancy:
            self.fields["pregnancy"].required = True
            if self.instance.pregnancy not in dict(PATIENT_PREGNANCY):
                self.initial["pregnancy"] = None
        else:
            del self.fields["pregnancy"]

    def clean(self):
        data = super().clean()
        if data.get("prior_contrast_reaction"):
            for name in ("reaction_description", "reaction_timing"):
                if not (data.get(name) or "").strip():
                    self.add_error(name, _("Please tell us this, so we can keep you safe."))
        return data

    def answers(self) -> dict[str, Any]:
        """The answers as the screening services take them; the pregnancy question is
        asked only of those who could be pregnant."""
        answers = cleaned_answers(self)
        if self.ask_pregnancy:
            answers["pregnancy_method"] = "Patient questionnaire (portal)"
        else:
            answers.update(pregnancy=Pregnancy.NOT_APPLICABLE, pregnancy_method="")
        return answers
