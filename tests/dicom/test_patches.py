"""The pynetdicom speed patches are contained (issue 16 item 6): pinned version, applied
only on it, stock pynetdicom otherwise, and the listener works either way."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pynetdicom
import pytest

from nephro.dicom import patches, samples
from nephro.dicom.models import Instance
from tests.dicom.conftest import free_port, storescu
from tests.dicom.test_fault import ROOT, start_listener_process


def test_the_pinned_pynetdicom_is_the_one_installed_and_in_pyproject():
    # Changing the pin means re-reading every module in nephro/dicom/patches against the
    # new pynetdicom's code and re-measuring them (bench/dicom_ingest.py): this fails
    # until PINNED says so.
    assert patches.PINNED == "3.0.4"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d.split("#")[0].strip() for d in dependencies if d.startswith("pynetdicom")]
    assert pins == [f"pynetdicom=={patches.PINNED}"]
    assert pynetdicom.__version__ == patches.PINNED


def test_each_patch_is_its_own_module_saying_why_and_what_it_gained():
    for name, module in patches.PATCHES.items():
        doc = module.__doc__ or ""
        assert "Why:" in doc and "Gain:" in doc, name
        assert callable(module.apply)
    assert patches.chosen("all") == list(patches.PATCHES)
    assert patches.chosen("none") == []
    assert patches.chosen("recv, reactors") == ["recv", "reactors"]
    with pytest.raises(ValueError):
        patches.chosen("recv,turbo")


STOCK_CHECK = """
import warnings
import pynetdicom
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.transport import AssociationSocket
recv, send = AssociationSocket.recv, DIMSEServiceProvider.send_msg
pynetdicom.__version__ = "3.0.5"  # what an upgrade would bring
from nephro.dicom import patches
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert patches.apply(list(patches.PATCHES)) == []
assert any("running stock pynetdicom" in str(w.message) for w in caught)
assert AssociationSocket.recv is recv and DIMSEServiceProvider.send_msg is send
print("stock")
"""


def test_on_another_pynetdicom_version_nothing_is_patched_and_it_says_so():
    result = subprocess.run(
        [sys.executable, "-c", STOCK_CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "stock", result.stderr


@pytest.mark.dicom
@pytest.mark.django_db(transaction=True)
def test_the_listener_stores_on_stock_pynetdicom(dicom_dirs, tmp_path):
    port = free_port()
    listener = start_listener_process(port, dicom_dirs, NEPHRO_DICOM_SPEED_PATCHES="none")
    try:
        image = tmp_path / "x.dcm"
        samples.image(image, frames=3, rows=64, cols=64)
        storescu(port, image)
    finally:
        listener.terminate()
        listener.wait(timeout=30)
    instance = Instance.objects.get()
    assert (Path(dicom_dirs) / instance.path).exists()
    assert list((Path(dicom_dirs) / ".incoming").iterdir()) == []
