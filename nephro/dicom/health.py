"""The administrator's page on the DICOM listener: whether it runs and since when, what it
accepted and refused (status.py, written by the listener), and the quarantine (files
refused because their SOP Instance UID is stored with other content). No patient data."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from nephro.dicom import publish, status
from nephro.dicom.models import Quarantined


def health(request: HttpRequest) -> HttpResponse:
    context = {
        "health": status.read(),
        "quarantined": Quarantined.objects.count(),
        "waiting": len(publish.pending()),  # on this host's disk, for the object store
        "recent": Quarantined.objects.all()[:20],
    }
    return render(request, "dicom/health.html", context)
