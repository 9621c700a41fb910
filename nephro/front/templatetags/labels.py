"""Words for codes that would otherwise reach the page raw."""

import re

from django import template

register = template.Library()

# The analysis's quality notes (nephro.analysis: series.py, pipeline.py, cli.py).
QUALITY = {
    "files_of_other_size_ignored": "files of another image size were left out",
    "films_resampled_onto_run_grid": "films of another size or field were fitted to the run",
    "non_image_files_ignored": "files without images were left out",
    "timing_missing": "the films carry no times",
    "log_encoded_pixels": "pixel values are log-encoded",
    "pixel_spacing_assumed": "pixel size not given, assumed",
    "frame_time_from_cine_rate": "frame times taken from the cine rate",
    "patient_motion_corrected": "patient movement corrected",
    "png_not_written": "picture not written",
    "contrast_on_other_side": "contrast first shows on the other side from the exam's kidney",
    "display_encoded_pixels": "pixel values carry a display curve, matched to the run",
    "polarity_from_content": "the run, stored with black and white swapped, was turned back",
    "film_polarity_from_content": "a film stored with black and white swapped was turned back",
    "views_elsewhere_left_out": "views at another table position were not read for the kidney",
    "views_elsewhere_placed": "the bladder was read on views at another table position",
    "view_placement_uncertain": "some views at another table position could not be placed",
    "bladder_on_views_elsewhere_unclear": "the bladder on views at another position is unclear",
    "late_films_without_kidney_as_views": "late films that miss the kidney were read as views",
    "kidney_outside_last_film": "the last film does not show the kidney",
    "body_part_not_kidney": "the images are labelled as another body part",
    "no_contrast": "no contrast was seen",
    "unusable_input": "the files could not be analysed",
}


@register.filter
def quality_labels(codes) -> str:
    """'log_encoded_pixels, timing_missing' -> 'pixel values are log-encoded; ...'"""
    return "; ".join(QUALITY.get(code, code.replace("_", " ")) for code in codes or [])


@register.filter
def role_label(code: str) -> str:
    """A role as people say it; `system` is a named component (nephro.audit.actor)."""
    from nephro.accounts.roles import Role

    if code == "system":
        return "System"
    return Role(code).label if code in Role.values else code or "—"


# Where the dose figures came from (Procedure.dose_source; nephro.dicom.dose).
DOSE_SOURCES = {
    "manual": "typed in",
    "rdsr": "from the unit's dose report",
    "mpps": "from the unit's procedure step",
}


@register.filter
def dose_source_label(code: str) -> str:
    return DOSE_SOURCES.get(code, code)


# Our own design files, which rule sources also name for developers (clinical.md, DESIGN).
_OWN_FILES = re.compile(r"\b(?:clinical\.md|DESIGN)(?:\s+section)?(?:\s+[\d.]+)?[;,]?\s*")


@register.filter
def citation(source: str) -> str:
    """A rule's source as staff read it: the literature it cites, not our own files."""
    return _OWN_FILES.sub("", source).strip(" ;,")


@register.filter
def action_label(code: str) -> str:
    """An audit action in words: 'exam.follow_up' -> 'exam: follow up' (the audit search
    takes either form)."""
    return ": ".join(part.replace("_", " ") for part in code.split("."))
