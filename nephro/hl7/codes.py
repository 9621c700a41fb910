"""The codes this interface agrees with the hospital (docs/interfaces.md lists them)."""

from nephro.exams.models import Indication, PatientClass, Urgency
from nephro.patients.models import Sex

# OBR-4 universal service ID -> the kidneys to study (one exam per side).
SERVICES = {
    "NEPHROGRAM-L": ["left"],
    "NEPHROGRAM-R": ["right"],
    "NEPHROGRAM-B": ["left", "right"],
}
# OBR-31 reason for study: our indication codes, as they are (nephro.exams.Indication).
INDICATIONS = frozenset(Indication.values)
# ORC-7.6 / TQ1-9 priority (HL7 table 0485): S stat, A ASAP, R routine; the department
# books "urgent" (today), "soon" (within a week) and "routine" (Urgency).
PRIORITIES = {"S": Urgency.URGENT, "A": Urgency.SOON, "R": Urgency.ROUTINE, "": Urgency.ROUTINE}
# PV1-2 patient class (HL7 table 0004): ours as the hospital codes it (results out), and
# read back (orders in), where P preadmit and R recurring come as outpatients too; any
# other code (B obstetrics, C commercial, N, U) is refused rather than guessed. No PV1, or
# an empty PV1-2, is an outpatient on a new order and leaves a changed one's class.
PV1_CLASS = {
    PatientClass.INPATIENT: "I",
    PatientClass.OUTPATIENT: "O",
    PatientClass.EMERGENCY: "E",
}
PATIENT_CLASSES = {
    **{code: kind for kind, code in PV1_CLASS.items()},
    "P": PatientClass.OUTPATIENT,
    "R": PatientClass.OUTPATIENT,
}
# PID-8 administrative sex (HL7 table 0001): A ambiguous and N not applicable are "other".
SEXES = {
    "F": Sex.FEMALE,
    "M": Sex.MALE,
    "O": Sex.OTHER,
    "U": Sex.UNKNOWN,
    "A": Sex.OTHER,
    "N": Sex.OTHER,
}
# ORC-1 order control codes handled (HL7 table 0119).
NEW, CANCEL, CHANGE = "NW", "CA", "XO"
