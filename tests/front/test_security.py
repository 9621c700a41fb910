"""Every page: not cached (patient data), and a strict Content-Security-Policy whose
inline scripts and styles all carry the response's nonce."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2] / "nephro"

pytestmark = pytest.mark.django_db


def _pages(exam):
    return [
        reverse("home"),
        reverse("exams:detail", args=[exam.pk]),
        reverse("patients:detail", args=[exam.patient_id]),
        reverse("followup:triage"),
        reverse("dicom:viewer", args=[exam.pk]),
    ]


def test_patient_data_is_never_cached(people, make_exam, client):
    exam = make_exam("reported")
    client.force_login(people["radiologist"])
    for url in [*_pages(exam), reverse("reports:pdf", args=[exam.pk])]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_every_page_has_a_strict_csp_with_a_fresh_nonce(people, make_exam, client):
    exam = make_exam("completed")
    client.force_login(people["radiologist"])
    nonces = set()
    for url in [*_pages(exam), reverse("login"), reverse("portal:info")]:
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        assert "script-src 'self' 'nonce-" in policy and "object-src 'none'" in policy
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        nonces.add(nonce)
        html = response.content.decode()
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
            assert "src=" in tag or f'nonce="{nonce}"' in tag, (url, tag)
        assert not re.search(r"\son[a-z]+=", html), url  # no inline event handlers
    assert len(nonces) == 7


def test_no_template_has_an_inline_script_or_style_without_the_nonce():
    for path in ROOT.rglob("templates/**/*.html"):
        text = path.read_text()
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", text):
            assert "src=" in tag or 'nonce="{{ csp_nonce }}"' in tag, (path, tag)
        # The CSP blocks style="" attributes and on...="" handlers whatever their nonce.
        assert not re.search(r"\sstyle=|\son[a-z]+=", text), path


def test_static_files_stay_cacheable(client):
    response = client.get("/static/nephro/nephro.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
