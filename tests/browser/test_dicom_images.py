"""Images on the exam page, the cine viewer and the reconciliation list, in Chromium."""

from __future__ import annotations

import re

import pytest
from pydicom import dcmread

from nephro.dicom import ingest, samples
from nephro.dicom.models import Instance
from nephro.exams.lifecycle import State
from nephro.jobs.queue import run_pending
from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def _store(path):
    ds = dcmread(path)
    data = path.read_bytes()
    offset = 144 + int.from_bytes(data[140:144], "little")
    return ingest.store(
        sop_class=ds.SOPClassUID,
        sop_instance=ds.SOPInstanceUID,
        syntax=ds.file_meta.TransferSyntaxUID,
        dataset=memoryview(data)[offset:],
        calling_ae="FLUORO1",
    ).instance


@pytest.fixture
def page(browser, live_server):
    """As conftest's, but Playwright's wait_for_function evaluates its predicate with
    eval, which the pages' Content-Security-Policy forbids; the viewer's own script still
    runs by its nonce (tests/browser/test_pages.py checks pages under the CSP)."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def dicom_store(settings, tmp_path):
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "cache"
    return tmp_path


def test_the_exam_page_shows_images_and_the_viewer_steps_frames(page, make_exam, dicom_store):
    exam = make_exam(State.IN_PROGRESS)
    for number, frames in ((1, 12), (2, 1)):
        samples.image(
            dicom_store / f"{number}.dcm",
            frames=frames,
            rows=256,
            cols=256,
            accession=exam.accession_number,
            patient_id=exam.patient.mrn,
            series_number=number,
            seed=number,
        )
        _store(dicom_store / f"{number}.dcm")
    samples.dose_report(
        dicom_store / "sr.dcm",
        ka_r_gy=0.0123,
        accession=exam.accession_number,
        patient_id=exam.patient.mrn,
    )
    _store(dicom_store / "sr.dcm")
    run_pending()
    sign_in(page, "rita")
    page.goto(f"/exams/{exam.pk}/")
    images = page.locator("section.dicom-images")
    assert images.get_by_role("heading", name=re.compile("Images")).is_visible()
    assert images.locator("img").count() == 2
    # The thumbnails load lazily: the section sits ~1,000 px below the window, near
    # Chromium's lazy-load distance, so a little more content above left them unloaded.
    # A user scrolls to them; so does the test.
    images.scroll_into_view_if_needed()
    loaded = (
        "[...document.querySelectorAll('.thumbs img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.wait_for_function(loaded)
    assert "12.30 mGy" in page.content() or "Ka,r 12.3" in page.content()
    shot(page, "dicom-exam-images")

    images.get_by_role("link", name="Open viewer").click()
    page.wait_for_load_state()
    assert page.locator("#frame-label").inner_text() == "1 / 12"
    page.get_by_role("link", name="Next frame").click()
    page.get_by_role("link", name="Next frame").click()
    assert page.locator("#frame-label").inner_text() == "3 / 12"
    page.wait_for_function("document.getElementById('frame-image').src.includes('frame=2')")
    page.get_by_label("Level").fill("1500")
    page.get_by_label("Window").fill("800")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_function("document.getElementById('frame-image').src.includes('ww=800')")
    page.wait_for_function(
        "document.getElementById('frame-image').complete && "
        "document.getElementById('frame-image').naturalWidth == 256"
    )
    page.keyboard.press("ArrowLeft")
    assert page.locator("#frame-label").inner_text() == "2 / 12"
    shot(page, "dicom-cine-viewer")


def test_staff_reconcile_unmatched_images(page, make_exam, dicom_store):
    exam = make_exam(State.IN_PROGRESS)
    samples.image(
        dicom_store / "x.dcm",
        frames=1,
        rows=128,
        cols=128,
        accession="OTHER-RIS",
        patient_id=exam.patient.mrn,
    )
    _store(dicom_store / "x.dcm")
    sign_in(page, "tom")
    page.goto("/dicom/unmatched/")
    row = page.locator("tbody tr").first
    assert "no exam with this accession" in row.inner_text()
    assert exam.accession_number in row.inner_text()  # offered: same patient ID
    shot(page, "dicom-reconciliation-list")
    row.get_by_label("Accession number").fill(exam.accession_number)
    row.get_by_role("button", name="Link").click()
    page.wait_for_load_state()
    assert "1 image(s) linked" in page.content()
    assert "No images are waiting" in page.content()
    assert Instance.objects.get().exam == exam
    shot(page, "dicom-reconciliation-done")
