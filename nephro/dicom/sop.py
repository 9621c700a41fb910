"""The SOP classes and transfer syntaxes Nephro accepts (issue 4: the fluoroscopy suite)."""

from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    RLELossless,
)

STORAGE_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.12.1": "XA",  # X-Ray Angiographic Image
    "1.2.840.10008.5.1.4.1.1.12.1.1": "XA",  # Enhanced XA Image
    "1.2.840.10008.5.1.4.1.1.12.2": "RF",  # X-Ray Radiofluoroscopic Image
    "1.2.840.10008.5.1.4.1.1.12.2.1": "RF",  # Enhanced XRF Image
    "1.2.840.10008.5.1.4.1.1.1": "CR",  # Computed Radiography Image
    "1.2.840.10008.5.1.4.1.1.1.1": "DX",  # Digital X-Ray Image, for presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1": "DX",  # Digital X-Ray Image, for processing
    "1.2.840.10008.5.1.4.1.1.7": "OT",  # Secondary Capture Image
    "1.2.840.10008.5.1.4.1.1.7.1": "OT",  # Multi-frame Single Bit SC
    "1.2.840.10008.5.1.4.1.1.7.2": "OT",  # Multi-frame Grayscale Byte SC
    "1.2.840.10008.5.1.4.1.1.7.3": "OT",  # Multi-frame Grayscale Word SC
    "1.2.840.10008.5.1.4.1.1.7.4": "OT",  # Multi-frame True Color SC
    "1.2.840.10008.5.1.4.1.1.88.67": "SR",  # X-Ray Radiation Dose SR
    "1.2.840.10008.5.1.4.1.1.88.22": "SR",  # Enhanced SR (some units' dose reports)
    "1.2.840.10008.5.1.4.1.1.88.33": "SR",  # Comprehensive SR (likewise)
}
RDSR_CLASS = "1.2.840.10008.5.1.4.1.1.88.67"
# Classes that may carry a dose report (TID 10001): read in the background (rdsr.py).
DOSE_REPORT_CLASSES = frozenset(
    {RDSR_CLASS, "1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.88.33"}
)

IMPLICIT_SYNTAXES = frozenset({ImplicitVRLittleEndian})
NATIVE_SYNTAXES = frozenset({ImplicitVRLittleEndian, ExplicitVRLittleEndian})
ENCAPSULATED_SYNTAXES = frozenset({RLELossless, JPEGLosslessSV1, JPEGLossless, JPEGBaseline8Bit})
# Verification, worklist and MPPS messages.
SERVICE_SYNTAXES: list[UID] = [ImplicitVRLittleEndian, ExplicitVRLittleEndian]
# Ours first: a sender offering several gets the uncompressed one it likely holds.
TRANSFER_SYNTAXES: list[UID] = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    JPEGLosslessSV1,
    JPEGLossless,
    JPEGBaseline8Bit,
]
