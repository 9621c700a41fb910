"""What the DICOM side tells other apps, without importing them (dicom imports no
drainage code: the drainage app listens)."""

from django.dispatch import Signal

# Images with pixels joined an exam (stored and thumbnailed, or linked by a person).
# Sent with ``actor`` (who caused it) and ``exam``.
images_linked = Signal()
