"""Patch: let a C-FIND handler yield an identifier that encodes itself (PreEncoded).

Why: building and validating a pydicom Dataset per worklist match cost more than the
query; mwl.Identifier encodes the same bytes directly. Without this patch the listener
yields ``dataset()`` instead (scp.handle_find).
Gain: worklist query+encode (bench/dicom_ingest.py "Modality worklist").
"""

from __future__ import annotations

import contextlib
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import (
    service_class,
)


class PreEncoded:
    """A C-FIND response identifier that encodes itself in Implicit or Explicit VR Little
    Endian (``encode``); ``dataset()`` is the pydicom Dataset, which pynetdicom encodes
    for any other transfer syntax or when ``encode`` raises ValueError. A listener
    handler may yield one where pynetdicom expects a Dataset (``tune_pynetdicom``)."""

    __slots__ = ()

    def encode(self, implicit: bool) -> bytes:
        raise NotImplementedError

    def dataset(self) -> Dataset:
        raise NotImplementedError


_ORIGINAL_ENCODE = service_class.encode


def _encode_identifier(
    ds: Any, is_implicit_vr: bool, is_little_endian: bool, deflated: bool = False
) -> Any:
    if isinstance(ds, PreEncoded):
        if is_little_endian and not deflated:
            with contextlib.suppress(ValueError):
                return ds.encode(implicit=is_implicit_vr)
        ds = ds.dataset()
    return _ORIGINAL_ENCODE(ds, is_implicit_vr, is_little_endian, deflated)


# --- Reactors: wait for events instead of polling -----------------------------------------


def apply() -> None:
    service_class.encode = _encode_identifier
