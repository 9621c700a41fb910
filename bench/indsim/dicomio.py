"""DICOM writing (PS3.3 XA / XRF Image IODs), as a fluoroscopy unit would write them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

XA_SOP = "1.2.840.10008.5.1.4.1.1.12.1"
RF_SOP = "1.2.840.10008.5.1.4.1.1.12.2"


def uid(*parts: object) -> str:
    return generate_uid(entropy_srcs=["bench.indsim", *[str(p) for p in parts]])


@dataclass
class StudyInfo:
    key: str  # scenario/seed, for deterministic UIDs
    study_uid: str
    accession: str
    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    start: datetime  # time of t = 0 (start of injection)
    side: str
    description: str
    body_part: str
    contrast_agent: str
    contrast_volume_ml: float | None
    institution: str


def _dt(info: StudyInfo, t: float) -> datetime:
    return info.start + timedelta(seconds=float(t))


def _fmt_time(d: datetime) -> str:
    return d.strftime("%H%M%S.%f")[:13]


def _ds(v: float, nd: int = 4) -> str:
    s = f"{v:.{nd}f}".rstrip("0").rstrip(".")
    return s[:16] if s else "0"


def base_dataset(
    info: StudyInfo,
    modality: str,
    series_uid: str,
    series_number: int,
    series_desc: str,
    instance_number: int,
    sop_uid: str,
    t_first: float,
    series_t: float,
    eq: object,
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = XA_SOP if modality == "XA" else RF_SOP
    ds.SOPInstanceUID = sop_uid
    study_dt = _dt(info, -300.0)
    acq = _dt(info, t_first)
    ser = _dt(info, series_t)
    ds.StudyDate = study_dt.strftime("%Y%m%d")
    ds.StudyTime = _fmt_time(study_dt)
    ds.SeriesDate = ser.strftime("%Y%m%d")
    ds.SeriesTime = _fmt_time(ser)
    ds.AcquisitionDate = acq.strftime("%Y%m%d")
    ds.AcquisitionTime = _fmt_time(acq)
    ds.AcquisitionDateTime = acq.strftime("%Y%m%d%H%M%S.%f")
    ds.ContentDate = acq.strftime("%Y%m%d")
    ds.ContentTime = _fmt_time(acq)
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime
    ds.AccessionNumber = info.accession
    ds.Modality = modality
    ds.Manufacturer = eq.manufacturer  # type: ignore[attr-defined]
    ds.ManufacturerModelName = eq.model  # type: ignore[attr-defined]
    ds.InstitutionName = info.institution
    ds.StationName = "FLUORO1"
    ds.ReferringPhysicianName = "REFERRER^SYNTHETIC"
    ds.StudyDescription = info.description
    ds.SeriesDescription = series_desc
    ds.PatientName = info.patient_name
    ds.PatientID = info.patient_id
    ds.PatientBirthDate = info.birth_date
    ds.PatientSex = info.sex
    ds.StudyInstanceUID = info.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = info.accession[-6:]
    ds.SeriesNumber = series_number
    ds.InstanceNumber = instance_number
    ds.BodyPartExamined = info.body_part
    ds.Laterality = info.side
    ds.ImageLaterality = info.side
    ds.SoftwareVersions = "bench.indsim 1"
    ds.DeviceSerialNumber = "SIM-0001"
    if info.contrast_agent:
        ds.ContrastBolusAgent = info.contrast_agent
        ds.ContrastBolusRoute = "NEPHROSTOMY"
        if info.contrast_volume_ml is not None:
            ds.ContrastBolusVolume = _ds(info.contrast_volume_ml, 1)
    ds.LossyImageCompression = "00"
    return ds


def set_pixels(
    ds: Dataset,
    frames: np.ndarray,
    chain: object,
    derived: dict,
    window: tuple[float, float],
) -> None:
    bits = chain.bits_stored  # type: ignore[attr-defined]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = chain.photometric  # type: ignore[attr-defined]
    ds.Rows = int(frames.shape[-2])
    ds.Columns = int(frames.shape[-1])
    ds.BitsAllocated = 8 if bits == 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = derived["pixel_intensity_relationship"]
    if chain.include_sign:  # type: ignore[attr-defined]
        ds.PixelIntensityRelationshipSign = derived["sign"]
    if derived["pixel_intensity_relationship"] == "LOG":
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = "1"
        ds.RescaleType = "US"
    ds.WindowCenter = _ds(window[0], 1)
    ds.WindowWidth = _ds(window[1], 1)
    ds.PixelData = np.ascontiguousarray(frames).tobytes()


def acquisition_tags(ds: Dataset, spec: object, eq: object, info: dict, mirrored: bool) -> None:
    beam = spec.beam  # type: ignore[attr-defined]
    ds.KVP = _ds(beam.kvp, 1)
    ds.RadiationSetting = "SC" if spec.mode == "fluoro" else "GR"  # type: ignore[attr-defined]
    ds.XRayTubeCurrent = int(round(info["ma"]))
    ds.ExposureTime = int(round(info["ms"]))
    ds.Exposure = max(int(round(info["mas"])), 0)
    ds.ExposureInuAs = int(round(info["mas"] * 1000))
    ds.AveragePulseWidth = _ds(info["ms"], 2)
    ds.FilterType = "AL+CU" if beam.cu_mm > 0 else "AL"
    ds.FilterMaterial = ["ALUMINUM", "COPPER"] if beam.cu_mm > 0 else "ALUMINUM"
    ds.Grid = "IN" if eq.grid else "NONE"  # type: ignore[attr-defined]
    ds.DistanceSourceToDetector = _ds(eq.sid_cm * 10, 1)  # type: ignore[attr-defined]
    ds.DistanceSourceToPatient = _ds(info["sod_mm"], 1)
    ds.EstimatedRadiographicMagnificationFactor = _ds(info["mag"], 4)
    ds.ImagerPixelSpacing = [_ds(spec.pixel_mm, 5), _ds(spec.pixel_mm, 5)]  # type: ignore[attr-defined]
    ds.FieldOfViewShape = spec.shape  # type: ignore[attr-defined]
    fov_mm = int(round(spec.fov_cm * 10))  # type: ignore[attr-defined]
    ds.FieldOfViewDimensions = [fov_mm] if spec.shape == "ROUND" else [fov_mm, fov_mm]  # type: ignore[attr-defined]
    if eq.detector == "image_intensifier":  # type: ignore[attr-defined]
        ds.IntensifierSize = _ds(spec.fov_cm * 10, 1)  # type: ignore[attr-defined]
    ds.PositionerPrimaryAngle = "0"
    ds.PositionerSecondaryAngle = "0"
    ds.TableHeight = _ds(info.get("table_height_mm", 900.0), 1)
    ds.PatientOrientation = ["R", "F"] if mirrored else ["L", "F"]
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    # display shutters for the II circle and the collimator blades
    shapes = []
    rows, cols = spec.rows, spec.cols  # type: ignore[attr-defined]
    if spec.shape == "ROUND":  # type: ignore[attr-defined]
        shapes.append("CIRCULAR")
        ds.CenterOfCircularShutter = [int((rows - 1) // 2), int((cols - 1) // 2)]
        ds.RadiusOfCircularShutter = int(min(rows, cols) // 2)
    left, right, top, bottom = spec.collimation  # type: ignore[attr-defined]
    if max(left, right, top, bottom) > 0:
        if mirrored:
            left, right = right, left
        shapes.append("RECTANGULAR")
        ds.ShutterLeftVerticalEdge = int(np.ceil(left * cols)) + 1
        ds.ShutterRightVerticalEdge = int(np.floor((1 - right) * cols))
        ds.ShutterUpperHorizontalEdge = int(np.ceil(top * rows)) + 1
        ds.ShutterLowerHorizontalEdge = int(np.floor((1 - bottom) * rows))
    if shapes:
        ds.ShutterShape = shapes


def finish(ds: Dataset, path: Path, rle: bool) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid("implementation")
    meta.ImplementationVersionName = "INDSIM_1"
    ds.file_meta = meta
    if rle:
        try:
            ds.compress(RLELossless, encoding_plugin="pylibjpeg")
        except Exception:  # noqa: BLE001 - fall back to pydicom's own encoder
            ds.compress(RLELossless)
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
