"""Reading dose from an RDSR and an MPPS, units normalised."""

from decimal import Decimal

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from nephro.dicom import mpps, rdsr, samples


def test_it_reads_the_accumulated_totals(tmp_path):
    samples.dose_report(tmp_path / "sr.dcm", fluoro_time_s=95, kap_gy_m2=0.0005, ka_r_gy=0.0123)
    totals = rdsr.read_totals(dcmread(tmp_path / "sr.dcm"))
    assert totals.fluoro_time_s == Decimal(95)
    assert totals.kap_gy_cm2 == Decimal("5.0000")
    assert totals.ka_r_mgy == Decimal("12.3000")


def test_it_adds_the_planes_of_a_biplane_unit(tmp_path):
    samples.dose_report(tmp_path / "sr.dcm", fluoro_time_s=60, kap_gy_m2=0.001, ka_r_gy=1, planes=2)
    totals = rdsr.read_totals(dcmread(tmp_path / "sr.dcm"))
    assert totals.fluoro_time_s == Decimal(120) and totals.ka_r_mgy == Decimal(2000)


def test_it_refuses_unknown_units(tmp_path):
    ds = samples.dose_report(tmp_path / "sr.dcm")
    unit = ds.ContentSequence[0].ContentSequence[1].MeasuredValueSequence[0]
    unit.MeasurementUnitsCodeSequence[0].CodeValue = "rad"
    with pytest.raises(rdsr.DoseReportError):
        rdsr.read_totals(ds)


def test_it_refuses_a_report_without_totals():
    with pytest.raises(rdsr.DoseReportError):
        rdsr.read_totals(Dataset())


def test_it_reads_an_mpps():
    ds = Dataset()
    ds.PerformedProcedureStepStatus = "completed"
    ds.TotalTimeOfFluoroscopy = 42
    ds.ImageAndFluoroscopyAreaDoseProduct = "12.5"
    ds.EntranceDoseInmGy = "8"
    ds.ContrastBolusAgent = "Iohexol 300"
    ds.ContrastBolusVolume = "15"
    step = mpps.read_step(ds)
    assert step["status"] == "COMPLETED"
    assert step["reported"] == {
        "fluoro_time_s": "42",
        "kap_gy_cm2": "1.25",
        "entrance_dose_mgy": "8",
        "contrast_agent": "Iohexol 300",
        "contrast_volume_ml": "15",
    }
