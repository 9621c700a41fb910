"""Write simulated series as XA/RF DICOM in several layouts and transfer syntaxes.

Layouts: one multi-frame file (irregular times in Frame Time Vector), a folder of
single-frame files (each with its own Acquisition DateTime, named in random order so
that readers must sort by time), or ``mixed``: the fluoroscopic run as one
multi-frame file plus one file per delayed spot film, as most units export.

Spot films of their own field and matrix (the phantom's ``films``), or written with the
opposite Photometric Interpretation (``spot_monochrome_flip``), are files of their
own, so a ``multiframe`` layout then becomes ``mixed``.

Transfer syntaxes: ``explicit`` and ``implicit`` little endian, ``rle`` (pydicom with
pylibjpeg-rle) and ``jpeg-lossless`` (JPEG lossless SV1 via dcmtk's ``dcmcjpeg``,
only when it is installed).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from nephro.analysis.phantom import SimulatedSeries

XA_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.12.1"  # X-Ray Angiographic Image Storage
RF_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.12.2"  # X-Ray Radiofluoroscopic Image Storage
SYNTAXES = ("explicit", "implicit", "rle", "jpeg-lossless")
LAYOUTS = ("multiframe", "single", "mixed")
_FRAME_TIME_VECTOR = 0x00181065
_FRAME_TIME = 0x00181063
_SID_MM, _SOD_MM = 1100.0, 1000.0  # source-detector / source-object distance


def jpeg_lossless_available() -> bool:
    """Whether dcmtk's ``dcmcjpeg`` is on PATH (needed for ``jpeg-lossless``)."""
    return shutil.which("dcmcjpeg") is not None


def write_series(
    sim: SimulatedSeries,
    out_dir: Path,
    *,
    layout: str = "multiframe",
    syntax: str = "explicit",
    photometric: str = "MONOCHROME2",
    modality: str = "RF",
    patient_id: str = "PHANTOM",
    patient_name: str = "Phantom^Nephro",
    study_instance_uid: str | None = None,
    accession_number: str = "",
    series_instance_uid: str | None = None,
    study_datetime: dt.datetime | None = None,
) -> list[Path]:
    """Write ``sim`` as DICOM files under ``out_dir`` and return their paths.

    Parameters
    ----------
    sim
        Output of :func:`nephro.analysis.phantom.simulate`.
    out_dir
        Created if missing.
    layout
        ``multiframe``, ``single`` or ``mixed`` (see module docstring).
    syntax
        One of :data:`SYNTAXES`.
    photometric
        ``MONOCHROME2`` (higher = brighter = more x-rays) or ``MONOCHROME1``
        (stored inverted, Pixel Intensity Relationship Sign -1, same display).
    modality
        ``RF`` or ``XA`` (chooses the SOP class).
    patient_id, patient_name, study_instance_uid, accession_number
        Identifiers, so demo data can attach the images to an exam.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
    if syntax not in SYNTAXES:
        raise ValueError(f"syntax must be one of {', '.join(SYNTAXES)}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError("photometric must be MONOCHROME1 or MONOCHROME2")
    if modality not in ("RF", "XA"):
        raise ValueError("modality must be RF or XA")
    if syntax == "jpeg-lossless" and not jpeg_lossless_available():
        raise RuntimeError("jpeg-lossless needs dcmtk's dcmcjpeg on PATH")
    out_dir.mkdir(parents=True, exist_ok=True)
    study_uid = study_instance_uid or generate_uid()
    series_uid = series_instance_uid or generate_uid()
    start = study_datetime or dt.datetime(2024, 3, 5, 9, 30, 0)
    p = sim.params
    own_files = bool(sim.films) or p.spot_monochrome_flip
    if own_files and layout == "multiframe":
        layout = "mixed"
    spot_photometric = photometric
    if p.spot_monochrome_flip:
        spot_photometric = "MONOCHROME2" if photometric == "MONOCHROME1" else "MONOCHROME1"

    common = _common(
        sim,
        modality,
        photometric,
        patient_id,
        patient_name,
        study_uid,
        series_uid,
        accession_number,
        start,
    )
    groups: list[list[int]]
    if layout == "multiframe":
        groups = [list(range(len(sim.times_s)))]
    elif layout == "single":
        groups = [[i] for i in range(len(sim.times_s))]
    else:
        run = [i for i in range(len(sim.times_s)) if not sim.is_spot[i]]
        groups = [run] + [[i] for i in range(len(sim.times_s)) if sim.is_spot[i]]

    paths: list[Path] = []
    for number, idx in enumerate(groups, start=1):
        ds = _dataset(common, modality)
        t0 = float(sim.times_s[idx[0]])
        when = start + dt.timedelta(seconds=t0)
        ds.InstanceNumber = number
        ds.AcquisitionDateTime = when.strftime("%Y%m%d%H%M%S.%f")
        ds.AcquisitionDate = ds.ContentDate = when.strftime("%Y%m%d")
        ds.AcquisitionTime = ds.ContentTime = when.strftime("%H%M%S.%f")
        ds.NumberOfFrames = len(idx)
        if len(idx) > 1:
            steps = np.diff(sim.times_s[idx]) * 1000.0
            if np.allclose(steps, steps[0], rtol=1e-3):
                ds.FrameTime = f"{steps[0]:.3f}"
                ds.FrameIncrementPointer = _FRAME_TIME
            else:
                ds.FrameTimeVector = [0.0] + [round(float(s), 3) for s in steps]
                ds.FrameIncrementPointer = _FRAME_TIME_VECTOR
            ds.StartTrim = 1
            ds.StopTrim = len(idx)
        frames = _frames(sim, idx, ds, spot_photometric if sim.is_spot[idx[0]] else photometric)
        ds.PixelData = frames.tobytes()
        if layout == "single":
            name = f"IM_{uuid.uuid4().hex[:12].upper()}.dcm"
        else:
            name = f"{'RUN' if len(idx) > 1 else 'SPOT'}_{number:03d}.dcm"
        path = out_dir / name
        _save(ds, path, syntax, frames)
        paths.append(path)
    return paths


def _frames(sim: SimulatedSeries, idx: list[int], ds: Dataset, photometric: str) -> NDArray[Any]:
    """The stored pixels of frames ``idx`` (setting ``ds``'s matrix, spacing and
    photometric tags where the file differs from the run)."""
    bits = sim.params.bits_stored
    if len(idx) == 1 and idx[0] in sim.films:
        film = sim.films[idx[0]][None]
        ds.Rows, ds.Columns = film.shape[1], film.shape[2]
        spacing = f"{sim.film_spacing_mm * _SID_MM / _SOD_MM:.5f}"
        ds.ImagerPixelSpacing = [spacing, spacing]
        pixels: NDArray[Any] = film
    else:
        pixels = sim.pixels[idx]
    if photometric == "MONOCHROME1":
        pixels = (2**bits - 1 - pixels.astype(np.int64)).astype(np.uint16)
    ds.PhotometricInterpretation = photometric
    ds.PixelIntensityRelationshipSign = -1 if photometric == "MONOCHROME1" else 1
    return np.ascontiguousarray(pixels.astype(np.uint8 if bits <= 8 else np.uint16))


def _common(
    sim: SimulatedSeries,
    modality: str,
    photometric: str,
    patient_id: str,
    patient_name: str,
    study_uid: str,
    series_uid: str,
    accession: str,
    start: dt.datetime,
) -> Dataset:
    p = sim.params
    n = sim.pixels.shape[1]
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    ds.SOPClassUID = XA_SOP_CLASS if modality == "XA" else RF_SOP_CLASS
    ds.StudyDate = ds.SeriesDate = start.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = start.strftime("%H%M%S")
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.Manufacturer = "Nephro"
    ds.ManufacturerModelName = "Synthetic nephrostogram phantom"
    ds.InstitutionName = "Nephro"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Nephrostogram"
    ds.SeriesDescription = f"Phantom {p.scenario} seed {p.seed}"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    # AP view: column index runs to the patient's left, row index to the feet.
    ds.PatientOrientation = ["R", "F"] if p.mirror else ["L", "F"]
    ds.Laterality = "R" if p.side == "right" else "L"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows = n
    ds.Columns = n
    ds.BitsAllocated = 8 if p.bits_stored <= 8 else 16
    ds.BitsStored = p.bits_stored
    ds.HighBit = p.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = "DISP" if p.response != "linear" else p.intensity_relationship
    ds.PixelIntensityRelationshipSign = -1 if photometric == "MONOCHROME1" else 1
    ds.LossyImageCompression = "00"
    ds.KVP = "75"
    ds.DistanceSourceToDetector = f"{_SID_MM:.1f}"
    ds.DistanceSourceToPatient = f"{_SOD_MM:.1f}"
    spacing = sim.pixel_spacing_mm * _SID_MM / _SOD_MM
    ds.ImagerPixelSpacing = [f"{spacing:.5f}", f"{spacing:.5f}"]
    ds.PositionerPrimaryAngle = 0
    ds.PositionerSecondaryAngle = 0
    return ds


def _dataset(common: Dataset, modality: str) -> Dataset:
    ds = Dataset()
    ds.update(common)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = common.SOPClassUID
    uid = generate_uid()
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPInstanceUID = uid
    return ds


def _save(ds: Dataset, path: Path, syntax: str, frames: NDArray[np.integer]) -> None:
    if syntax == "implicit":
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    elif syntax == "rle":
        ds.compress(RLELossless, np.ascontiguousarray(frames if len(frames) > 1 else frames[0]))
    ds.save_as(path, enforce_file_format=True)
    if syntax == "jpeg-lossless":
        tmp = path.with_suffix(".tmp")
        subprocess.run(
            ["dcmcjpeg", "+e1", str(path), str(tmp)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        tmp.replace(path)
