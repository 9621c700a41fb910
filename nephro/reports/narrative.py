"""The report text generated from the structured findings (editable before signing)."""

from __future__ import annotations

from nephro.reports.models import (
    Bladder,
    Findings,
    Hydronephrosis,
    ObstructionCause,
    ObstructionLevel,
    Passage,
    Patency,
    TubePosition,
)


def technique(exam) -> str:
    procedure = getattr(exam, "procedure", None)
    side = exam.get_side_display().lower()
    text = f"Antegrade nephrostogram through the {side} nephrostomy tube."
    if procedure is None:
        return text
    if procedure.contrast_agent:
        amount = []
        if procedure.contrast_volume_ml is not None:
            amount.append(f"{procedure.contrast_volume_ml} mL")
        if procedure.contrast_concentration_mgi_ml:
            amount.append(f"{procedure.contrast_concentration_mgi_ml} mgI/mL")
        detail = f" ({', '.join(amount)})" if amount else ""
        text += f" {procedure.contrast_agent}{detail} was injected through the tube."
    if procedure.views:
        text += " Views: " + ", ".join(label.lower() for label in procedure.view_labels()) + "."
    dose = []
    if procedure.fluoro_time_s is not None:
        dose.append(f"fluoroscopy time {procedure.fluoro_time_s} s")
    if procedure.kap_gy_cm2 is not None:
        dose.append(f"KAP {procedure.kap_gy_cm2.normalize():f} Gy·cm²")
    if procedure.ka_r_mgy is not None:
        dose.append(f"Ka,r {procedure.ka_r_mgy.normalize():f} mGy")
    if dose:
        text += " Dose: " + "; ".join(dose) + "."
    return text


def findings_text(f: Findings) -> str:
    sentences = [
        f"{TubePosition(f.tube_position).label}; "
        f"the tube is {Patency(f.tube_patency).label.lower()}.",
        f"Collecting system: {Hydronephrosis(f.hydronephrosis).label}.",
        f"UPJ: {Passage(f.upj_passage).label.lower()}. Ureter: "
        f"{Passage(f.ureter_passage).label.lower()}.",
        Bladder(f.bladder).label
        + (f" (at {f.bladder_time_min} min)" if f.bladder_time_min is not None else "")
        + ".",
    ]
    if f.obstruction_level:
        cause = ObstructionCause(f.obstruction_cause).label.lower() if f.obstruction_cause else ""
        sentences.append(
            f"Obstruction at the {ObstructionLevel(f.obstruction_level).label.lower()}"
            + (f", {cause}" if cause else "")
            + "."
        )
    if f.filling_defect:
        sentences.append(f"Filling defect: {f.get_filling_defect_display().lower()}.")
    sentences.append("Contrast leak / extravasation." if f.leak else "No leak or extravasation.")
    if f.fistula:
        sentences.append("Fistula present.")
    if f.comment.strip():
        sentences.append(f.comment.strip())
    return " ".join(sentences)


def impression(f: Findings) -> str:
    drains = f.bladder in (Bladder.IMMEDIATE, Bladder.DELAYED) and not f.obstruction_level
    parts = []
    if f.tube_position == TubePosition.OUT or f.tube_patency != Patency.PATENT:
        parts.append("Tube malposition or malfunction.")
    if drains:
        timing = "promptly" if f.bladder == Bladder.IMMEDIATE else "with delay"
        parts.append(f"The collecting system drains {timing} through the ureter to the bladder.")
    elif f.obstruction_level:
        parts.append(
            f"Obstruction at the {ObstructionLevel(f.obstruction_level).label.lower()}; "
            "no adequate drainage to the bladder."
        )
    else:
        parts.append("No contrast reached the bladder.")
    if f.leak:
        parts.append("Contrast leak.")
    if f.hydronephrosis >= Hydronephrosis.GRADE3:
        parts.append(f"{Hydronephrosis(f.hydronephrosis).label}.")
    return " ".join(parts)
