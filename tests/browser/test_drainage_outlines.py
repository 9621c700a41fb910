"""The radiologist sees the analysis's outlines over the images, corrects them and
recomputes; the findings page then says the suggestion used corrected outlines."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from nephro.analysis import generate_case
from nephro.audit.actor import WORKER
from nephro.dicom import ingest
from nephro.drainage.models import DrainageAnalysis
from nephro.drainage.services import request_analysis
from nephro.exams.lifecycle import State
from nephro.jobs.queue import run_pending
from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def analysed_exam(make_exam, settings, tmp_path):
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "cache"
    exam = make_exam(State.COMPLETED)
    generate_case(
        "patent",
        3,
        tmp_path / "case",
        size=384,  # binned by 3 for the analysis: the outlines come back in original pixels
        max_run_frames=20,
        layout="multiframe",
        side=exam.side,  # the images show the exam's kidney
        patient_id=exam.patient.mrn,
        patient_name=exam.patient.dicom_name,
        accession_number=exam.accession_number,
        study_instance_uid=exam.study_instance_uid,
    )
    for path in sorted((tmp_path / "case").rglob("*.dcm")):
        with path.open("rb") as source:
            ingest.import_part10(source, calling_ae="FLUORO1")
    run_pending()
    request_analysis(WORKER, exam, source="upload", delay_s=0)
    run_pending()
    analysis = exam.drainage_analyses.first()
    assert analysis.state == "done" and analysis.verdict == "drains", analysis.error
    return exam


def test_a_radiologist_corrects_the_bladder_and_recomputes(page, people, analysed_exam):
    exam = analysed_exam
    sign_in(page, people["radiologist"].username)
    page.goto(f"/dicom/exams/{exam.pk}/images/")
    layer = page.locator("#outline-layer")
    expect(page.locator("#outline-controls")).to_be_visible()
    assert layer.bounding_box() == page.locator("#frame-image").bounding_box()  # aligned
    expect(layer.locator(".ol-collecting_system polygon")).to_have_count(1)
    bladder = layer.locator(".ol-bladder polygon")
    expect(bladder).to_have_count(1)
    expect(page.locator("#outline-status")).to_contain_text("Outlines as found by the analysis")

    # Each outline can be hidden; the legend names it (not colour alone).
    page.get_by_label("Ureter (U, dashed)").uncheck()
    expect(layer.locator(".ol-ureter")).to_have_count(0)
    page.get_by_label("Ureter (U, dashed)").check()

    _move_the_bladder(page, layer)
    _draw_a_leak(page, layer)

    # The bladder is in fact below the field: say so and recompute.
    page.get_by_label("Bladder not in field").check()
    expect(layer.locator(".ol-bladder")).to_have_count(0)
    page.get_by_label("Why (optional)").fill("bladder below the field")
    page.get_by_role("button", name="Recompute").click()
    result = page.locator("#outline-result")
    expect(result).to_contain_text("New verdict:", timeout=30_000)
    expect(result).not_to_contain_text("New verdict: Drains")
    expect(page.locator("#outline-status")).to_contain_text("Outlines corrected by")
    shot(page, "drainage-outlines-corrected")

    corrected = DrainageAnalysis.objects.filter(exam=exam).first()
    assert corrected.corrects is not None and corrected.outlines["bladder_in_field"] is False
    assert "bladder" not in corrected.outlines and len(corrected.outlines["leak"]) == 1
    page.goto(f"/exams/{exam.pk}/findings/")
    used = page.locator("#outlines-used")
    expect(used).to_contain_text("Outlines corrected by")
    expect(used).to_contain_text("the analysis's own outlines gave Drains")


def test_a_technologist_sees_the_outlines_but_cannot_correct_them(page, people, analysed_exam):
    sign_in(page, people["tech"].username)
    page.goto(f"/dicom/exams/{analysed_exam.pk}/images/")
    expect(page.locator("#outline-layer .ol-bladder polygon")).to_have_count(1)
    expect(page.get_by_role("button", name="Recompute")).to_have_count(0)


def _move_the_bladder(page, layer) -> None:
    bladder = layer.locator(".ol-bladder polygon")
    # Drag one of the bladder's points: its outline moves.
    before = bladder.get_attribute("points")
    point = layer.locator(".ol-bladder .handle").first
    point.scroll_into_view_if_needed()
    handle = point.bounding_box()
    assert handle is not None
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 25, steps=5)
    page.mouse.up()
    dragged = layer.locator(".ol-bladder polygon").get_attribute("points")
    assert dragged != before
    # Or, without a mouse, move the whole outline by buttons.
    page.get_by_role("button", name="Move down").click()
    assert layer.locator(".ol-bladder polygon").get_attribute("points") != dragged


def _draw_a_leak(page, layer) -> None:
    # A new outline is drawn point by point; fewer than 3 points is not an outline.
    page.get_by_label("Leak", exact=True).check()
    page.get_by_role("button", name="Redraw").click()
    box = layer.bounding_box()
    assert box is not None

    def click_at(fx: float, fy: float) -> None:
        layer.click(position={"x": fx * box["width"], "y": fy * box["height"]})

    click_at(0.7, 0.2)
    click_at(0.85, 0.2)
    page.get_by_role("button", name="Finish outline").click()
    expect(page.locator("#outline-status")).to_contain_text("at least 3 points")
    click_at(0.85, 0.35)
    click_at(0.7, 0.35)
    page.get_by_role("button", name="Finish outline").click()
    expect(layer.locator(".ol-leak polygon")).to_have_count(1)
    assert len(layer.locator(".ol-leak polygon").get_attribute("points").split()) == 4
