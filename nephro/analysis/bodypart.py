"""Body Part Examined (0018,0015): images labelled as a region that cannot show the
kidney are not a nephrostogram (issue 14, item 4: "a chest film").

The terms are the defined terms of DICOM PS3.3 C.7.3.1 (Body Part Examined; their codes
in PS3.16 Annex L) for regions away from the native kidneys and from a transplant
kidney in the iliac fossa. The abdomen, the pelvis, the hip and the lumbar and thoracic
spine may show a kidney and never stop the analysis, nor does a missing or unknown term:
the images then decide, as before.
"""

from __future__ import annotations

from collections.abc import Iterable

ELSEWHERE = {
    "SKULL": "skull",
    "HEAD": "head",
    "BRAIN": "head",
    "JAW": "jaw",
    "NECK": "neck",
    "CSPINE": "neck",
    "CHEST": "chest",
    "CLAVICLE": "collarbone",
    "BREAST": "breast",
    "HEART": "heart",
    "SHOULDER": "shoulder",
    "ARM": "arm",
    "ELBOW": "elbow",
    "FOREARM": "arm",
    "WRIST": "wrist",
    "HAND": "hand",
    "FINGER": "hand",
    "THUMB": "hand",
    "EXTREMITY": "arm or leg",
    "LEG": "leg",
    "KNEE": "knee",
    "ANKLE": "ankle",
    "FOOT": "foot",
    "TOE": "foot",
}
"""Defined terms that name a region holding no kidney, with a plain name for it."""


def region_without_kidney(parts: Iterable[str]) -> str | None:
    """The plain name of the region every file is labelled as, when none of them can
    show a kidney; ``None`` when any file is unlabelled or may show one."""
    names = [ELSEWHERE.get(p.strip().upper()) for p in parts]
    if not names or None in names:
        return None
    return " and ".join(sorted(set(n for n in names if n)))
