"""The framing check that stands between a received byte stream and the index."""

import io

import pytest
from pydicom import dcmread
from pydicom.filewriter import dcmwrite

from nephro.dicom import samples, structure


def _encoded(ds, implicit=False) -> bytes:
    """The data set alone, as it travels in a C-STORE (no preamble, no file meta)."""
    ds = ds.copy()
    del ds.file_meta
    out = io.BytesIO()
    dcmwrite(out, ds, implicit_vr=implicit, little_endian=True)
    data = out.getvalue()
    assert not data.startswith(b"\0" * 128)
    return data


@pytest.fixture
def image_bytes(tmp_path) -> bytes:
    ds = samples.image(tmp_path / "a.dcm", frames=3, rows=64, cols=64)
    return _encoded(ds)


def test_it_accepts_a_whole_image_and_reports_its_pixel_length(image_bytes):
    assert structure.check(image_bytes, implicit=False).pixel_length == 3 * 64 * 64 * 2


def test_it_accepts_implicit_vr(tmp_path):
    ds = samples.image(tmp_path / "a.dcm", rows=32, cols=32)
    assert structure.check(_encoded(ds, implicit=True), implicit=True).pixel_length == 32 * 32 * 2


def test_it_accepts_a_dose_report_with_nested_sequences(tmp_path):
    ds = samples.dose_report(tmp_path / "sr.dcm", planes=2)
    assert structure.check(_encoded(ds), implicit=False).pixel_offset is None


@pytest.mark.parametrize("keep", [0.999, 0.5, 0.01])
def test_it_refuses_a_truncated_stream(image_bytes, keep):
    with pytest.raises(structure.Malformed):
        structure.check(image_bytes[: int(len(image_bytes) * keep)], implicit=False)


def test_it_refuses_garbage():
    with pytest.raises(structure.Malformed):
        structure.check(b"garbage!" * 100, implicit=False)
    with pytest.raises(structure.Malformed):
        structure.check(bytes(range(256)) * 10, implicit=True)


def test_it_refuses_trailing_bytes(image_bytes):
    with pytest.raises(structure.Malformed):
        structure.check(image_bytes + b"\x01", implicit=False)


def test_it_refuses_an_unclosed_sequence(tmp_path):
    ds = samples.dose_report(tmp_path / "sr.dcm")
    data = _encoded(ds)
    with pytest.raises(structure.Malformed):
        structure.check(data[:-40], implicit=False)


def test_it_walks_encapsulated_pixel_data(tmp_path):
    from pydicom.uid import RLELossless

    ds = samples.image(tmp_path / "a.dcm", frames=2, rows=32, cols=32)
    ds.compress(RLELossless)
    data = _encoded(ds)  # explicit VR, as RLE requires
    assert structure.check(data, implicit=False).pixel_length == structure.UNDEFINED
    with pytest.raises(structure.Malformed):
        structure.check(data[:-12], implicit=False)
    assert dcmread(io.BytesIO(data), force=True).NumberOfFrames == 2
