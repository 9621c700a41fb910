"""Synthetic DICOM for tests, the benchmark and the demo: no patient data, built in code.

``image()`` writes an XA/RF/DX/SC image (single- or multi-frame, explicit VR little
endian), ``dose_report()`` an X-Ray Radiation Dose SR (TID 10001) with the three
accumulated totals Nephro reads, and ``worklist_query()`` the C-FIND identifier a
modality sends. dcmtk's dcmcrle / dcmcjpeg turn them into RLE and JPEG.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from nephro.dicom.sop import RDSR_CLASS

RF_CLASS = "1.2.840.10008.5.1.4.1.1.12.2"
XA_CLASS = "1.2.840.10008.5.1.4.1.1.12.1"
DX_CLASS = "1.2.840.10008.5.1.4.1.1.1.1"
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"


def _base(
    sop_class: str,
    *,
    study_uid: str | None,
    series_uid: str | None,
    sop_uid: str | None,
    accession: str,
    patient_id: str,
    patient_name: str,
    modality: str,
    series_number: int,
    instance_number: int,
) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid) if sop_uid else generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    now = dt.datetime.now()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.Manufacturer = "Nephro synthetic"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.InstanceNumber = instance_number
    return ds


def pixels(frames: int, rows: int, cols: int, bits: int = 12, seed: int = 0) -> np.ndarray:
    """A kidney-ish blob on a soft gradient with noise, fading in over the frames."""
    rng = np.random.default_rng(seed)
    top = (1 << bits) - 1
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    background = 0.3 + 0.2 * (x / cols)
    blob = np.exp(
        -(((x - cols * 0.45) / (cols * 0.12)) ** 2 + ((y - rows * 0.4) / (rows * 0.2)) ** 2)
    )
    out = np.empty((frames, rows, cols), dtype=np.uint16 if bits > 8 else np.uint8)
    noise = rng.normal(0, 0.02, (rows, cols)).astype(np.float32)
    for i in range(frames):
        level = background - 0.25 * blob * min(1.0, (i + 1) / max(frames / 2, 1))
        out[i] = np.clip((level + np.roll(noise, i * 7, axis=1)) * top, 0, top)
    return out


def image(
    path: Path,
    *,
    frames: int = 1,
    rows: int = 512,
    cols: int = 512,
    bits: int = 12,
    sop_class: str = RF_CLASS,
    modality: str = "RF",
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    accession: str = "",
    patient_id: str = "SYNTH",
    patient_name: str = "",  # empty: not compared with the exam's patient (matching.py)
    series_number: int = 1,
    instance_number: int = 1,
    seed: int = 0,
    data: np.ndarray | None = None,
) -> Dataset:
    ds = _base(
        sop_class,
        study_uid=study_uid,
        series_uid=series_uid,
        sop_uid=sop_uid,
        accession=accession,
        patient_id=patient_id,
        patient_name=patient_name,
        modality=modality,
        series_number=series_number,
        instance_number=instance_number,
    )
    allocated = 16 if bits > 8 else 8
    data = pixels(frames, rows, cols, bits, seed) if data is None else data
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, bits, bits - 1
    ds.PixelRepresentation = 0
    if sop_class in (RF_CLASS, XA_CLASS):
        ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
        ds.PositionerMotion = "STATIC"
    if frames > 1:
        ds.NumberOfFrames = frames
        ds.FrameTime = 66.7
        ds.FrameIncrementPointer = 0x00181063
        ds.CineRate = 15
    if sop_class == SC_CLASS:
        ds.ConversionType = "WSD"
    ds.PixelData = data.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return ds


WORKLIST_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "StudyInstanceUID",
    "Allergies",
    "PregnancyStatus",
    "RequestedContrastAgent",
    "MedicalAlerts",
)
STEP_KEYS = (
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepID",
    "ScheduledProcedureStepDescription",
)


def worklist_query(**keys: Any) -> Dataset:
    """A modality's worklist C-FIND identifier: every key it expects back, empty (return
    it) unless given (match on it). ``PatientName`` goes on the top level, the rest
    into the Scheduled Procedure Step item."""
    query = Dataset()
    for keyword in WORKLIST_KEYS:
        setattr(query, keyword, keys.get(keyword) if keyword == "PatientName" else None)
    item = Dataset()
    for keyword in STEP_KEYS:
        setattr(item, keyword, keys.get(keyword))
    query.ScheduledProcedureStepSequence = [item]
    return query


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _num(code: str, meaning: str, value: float, unit: str, unit_meaning: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "NUM"
    item.ConceptNameCodeSequence = Sequence([_code(code, "DCM", meaning)])
    measured = Dataset()
    measured.NumericValue = str(value)
    measured.MeasurementUnitsCodeSequence = Sequence([_code(unit, "UCUM", unit_meaning)])
    item.MeasuredValueSequence = Sequence([measured])
    return item


def dose_report(
    path: Path,
    *,
    fluoro_time_s: float = 95.0,
    kap_gy_m2: float = 0.00042,
    ka_r_gy: float = 0.0123,
    planes: int = 1,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    accession: str = "",
    patient_id: str = "SYNTH",
    patient_name: str = "",  # empty: not compared with the exam's patient (matching.py)
) -> Dataset:
    """An X-Ray Radiation Dose SR with accumulated totals in UCUM units (Gy.m2, Gy, s)."""
    ds = _base(
        RDSR_CLASS,
        study_uid=study_uid,
        series_uid=series_uid,
        sop_uid=sop_uid,
        accession=accession,
        patient_id=patient_id,
        patient_name=patient_name,
        modality="SR",
        series_number=999,
        instance_number=1,
    )
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ConceptNameCodeSequence = Sequence([_code("113701", "DCM", "X-Ray Radiation Dose Report")])
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "10001"
    ds.ContentTemplateSequence = Sequence([template])
    content = []
    for _plane in range(planes):
        accumulated = Dataset()
        accumulated.RelationshipType = "CONTAINS"
        accumulated.ValueType = "CONTAINER"
        accumulated.ContinuityOfContent = "SEPARATE"
        accumulated.ConceptNameCodeSequence = Sequence(
            [_code("113702", "DCM", "Accumulated X-Ray Dose Data")]
        )
        accumulated.ContentSequence = Sequence(
            [
                _num("113722", "Dose Area Product Total", kap_gy_m2, "Gy.m2", "Gy.m2"),
                _num("113725", "Dose (RP) Total", ka_r_gy, "Gy", "Gy"),
                _num("113730", "Total Fluoro Time", fluoro_time_s, "s", "s"),
            ]
        )
        content.append(accumulated)
    ds.ContentSequence = Sequence(content)
    ds.save_as(path, enforce_file_format=True)
    return ds
