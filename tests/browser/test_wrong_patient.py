"""Another patient's images never join an exam silently (issue 15, item 1), in Chromium."""

from __future__ import annotations

import pytest

from nephro.dicom import samples
from nephro.dicom.models import Instance
from nephro.exams.lifecycle import State
from tests.browser.conftest import shot, sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


@pytest.fixture
def dicom_store(settings, tmp_path):
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "cache"
    return tmp_path


def test_another_patients_upload_waits_and_is_linked_only_when_confirmed(
    page, make_exam, dicom_store
):
    exam = make_exam(State.IN_PROGRESS)
    other = make_patient()
    files = []
    for n in range(3):
        path = dicom_store / f"other{n}.dcm"
        samples.image(
            path,
            rows=64,
            cols=64,
            study_uid="1.2.826.0.1.3680043.8.498.777",
            patient_id=other.mrn,
            patient_name=other.dicom_name,
            instance_number=n + 1,
        )
        files.append(str(path))
    sign_in(page, "tom")
    page.goto(f"/exams/{exam.pk}/")
    page.get_by_label("Add DICOM files").set_input_files(files)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_load_state()
    text = page.content()
    assert "3 files stored but not added to this exam" in text
    assert "Not stored" not in text
    assert "No images received yet" in text  # the exam's image count is unchanged
    assert exam.instances.count() == 0
    shot(page, "wrong-patient-upload-waits")

    page.goto("/dicom/unmatched/")
    row = page.locator("tbody tr").first
    assert other.mrn in row.inner_text()
    row.get_by_label("Accession number").fill(exam.accession_number)
    row.get_by_role("button", name="Link").click()
    page.wait_for_load_state()
    assert "may be of another patient" in page.content()
    assert exam.instances.count() == 0  # asked, not linked
    shot(page, "wrong-patient-confirm")
    page.get_by_role("link", name="Cancel: leave them waiting").click()
    page.wait_for_load_state()
    assert Instance.objects.filter(exam__isnull=True).count() == 3
