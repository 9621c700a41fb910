"""The patient information about a nephrostogram, written for patients.

One source for the web page, the printable handout and the readability test. Every
sentence is for grade 8 or below (tests/portal/test_readability.py measures it), and
each fact names where it comes from. "After the test" is built from the triage table,
so the page and the check-in instructions can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from nephro.followup.triage import SYMPTOMS, Urgency


@dataclass
class Section:
    slug: str
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # paragraphs after the bullets


def _symptoms(urgency: str) -> list[str]:
    return [str(s.label) for s in SYMPTOMS if s.urgency == urgency]


def _checkin_days() -> str:
    days = sorted({max(1, round(h / 24)) for h in settings.NEPHRO_CHECKIN_HOURS})
    if not days:
        return ""
    listed = str(days[-1])
    if len(days) > 1:
        listed = _("%(list)s and %(last)s") % {
            "list": ", ".join(str(d) for d in days[:-1]),
            "last": days[-1],
        }
    return ngettext(
        "We will check on you %(days)s day after the test.",
        "We will check on you %(days)s days after the test.",
        days[-1],
    ) % {"days": listed}


def sections(phone: str | None = None) -> list[Section]:
    """The information in the active language."""
    phone = phone or settings.NEPHRO_DEPARTMENT_PHONE
    emergency = settings.NEPHRO_EMERGENCY_NUMBER
    return [
        Section(
            "what",
            _("What is a nephrostogram?"),
            # DESIGN intro; clinical.md 1 [D][NU].
            [
                _(
                    "A nephrostogram is an x-ray test of your kidney tube. This tube is "
                    "called a nephrostomy tube. It drains urine from your kidney into a bag."
                ),
                _(
                    "For the test, a doctor puts dye into your tube. The dye shows up on "
                    "x-rays. The pictures show if the tube is in the right place and if it "
                    "is blocked. They also show if urine can drain from your kidney down "
                    "to your bladder."
                ),
                _(
                    "The results help your doctors plan what comes next. The tube may be "
                    "taken out, changed, capped or left in place."
                ),
            ],
        ),
        Section(
            "who",
            _("Who has this test?"),
            [_("You may have this test if:")],
            # DESIGN 2 indications; clinical.md 1 [D][NU].
            [
                _("your doctor thinks something is blocking your kidney"),
                _("you had kidney stones taken out, and your doctor wants to see if they are gone"),
                _("it is time for a routine check of your tube"),
                _("your tube is not draining, is leaking or hurts"),
                _("your doctor plans to take the tube out"),
                _("your tube was just put in"),
            ],
        ),
        Section(
            "prepare",
            _("Getting ready"),
            [
                # DESIGN 3: no diet, fluid or medication restrictions; clinical.md 3 [NU].
                _(
                    "You can eat and drink as usual. You can take your medicines as usual. "
                    "Do not stop a medicine unless your care team tells you to."
                ),
                _("Tell us before the test if:"),
            ],
            # DESIGN 3 screening; clinical.md 2 [ACRP][NS][ACRM].
            [
                _("you are pregnant or may be pregnant"),
                _(
                    "you take blood thinners, such as aspirin, Coumadin (warfarin) or "
                    "arthritis medicines"
                ),
                _("you ever had a bad reaction to x-ray dye"),
                _("you have a fever or feel sick"),
            ],
            [
                # clinical.md 3: metal off, gown [GOSH]; DESIGN 2 checklist.
                _(
                    "On the day, wear clothes that are easy to take off. You will put on a "
                    "gown. Take off metal things, such as jewelry, belts and clothes with "
                    "zips or snaps."
                ),
            ],
        ),
        Section(
            "during",
            _("What happens during the test"),
            [
                # clinical.md 3: 30-60 min [DR][SD].
                _("The test takes about 30 to 60 minutes."),
                # clinical.md 3: scout film [D].
                _(
                    "You lie on an x-ray table. First we take one x-ray without dye. This "
                    "is called a scout film."
                ),
                # clinical.md 3: contrast by gravity [NU]; DESIGN 2 tolerance.
                _(
                    "Then the doctor puts a small amount of dye into your tube. You may "
                    "feel pressure or a mild ache. This is normal."
                ),
                # clinical.md 3: breath-hold, several positions [DR].
                _(
                    "We take x-rays with you in a few positions. For each picture, we will "
                    "ask you to hold your breath and keep still."
                ),
                # clinical.md 3: delayed film at 20 min [NU].
                _("You may need to wait about 20 minutes for one more x-ray."),
                # DESIGN 2 disposition; clinical.md 5 [NU][BI].
                _(
                    "If the dye drains well, your doctor may take the tube out right after "
                    "the test."
                ),
                # clinical.md 3: home right after; 6-8 glasses of water [DR][SD].
                _(
                    "You can go home after the test. Drink 6 to 8 glasses of water that "
                    "day, unless your doctor told you to limit fluids."
                ),
            ],
        ),
        Section(
            "after",
            _("After the test: what to watch for"),
            # DESIGN 6 / clinical.md 6, through nephro.followup.triage.
            [
                _("Call %(number)s (emergency services) right away if you have:")
                % {"number": emergency}
            ],
            _symptoms(Urgency.EMERGENCY),
            [
                _("Call the care team now if you have:"),
                "; ".join(_symptoms(Urgency.URGENT)) + ".",
                _("The opening for the tube can close in about a day, so do not wait."),
                _("Call the care team if you have:"),
                "; ".join(_symptoms(Urgency.CONTACT)) + ".",
                _(
                    "Some blood in the urine for a day or two is common. So is a mild ache "
                    "or pressure near the kidney. Call us if it lasts or gets worse."
                ),
                _("Care team phone: %(phone)s.") % {"phone": phone},
                _checkin_days(),
            ],
        ),
        Section(
            "risks",
            _("Risks"),
            [
                # DESIGN 4; clinical.md 7.
                _("The test uses a small amount of radiation. We keep it as low as we can."),
                # clinical.md 2 [RPX].
                _("There is a slight chance of infection."),
                # clinical.md 2 [EUF]; clinical.md 6 [ESUR][DR].
                _(
                    "A reaction to the dye is rare. A rash or itching can show up to a "
                    "week later. Tell us if it happens."
                ),
            ],
        ),
        Section(
            "team",
            _("Who does the test"),
            [
                # clinical.md 10 [NBT][ACRP].
                _(
                    "A radiologist does the test. This is a doctor trained to use x-rays to "
                    "find and treat health problems."
                ),
                _(
                    "A radiologic technologist helps. This person is trained to take x-rays. "
                    "They will help you get into the right position."
                ),
                _("A nurse may call you after the test to see how you are."),
            ],
        ),
    ]
