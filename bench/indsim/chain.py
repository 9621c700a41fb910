"""Image processing chain: detector response (log / linear / gamma), recursive temporal
filter, unsharp masking, baked-in windowing or LUT, display polarity, photometric
interpretation, shutter blanking, mirroring and quantisation to Bits Stored."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .acquisition import Chain


class ChainProcessor:
    def __init__(self, chain: Chain) -> None:
        self.c = chain
        self.prev: np.ndarray | None = None
        self.scale: float | None = None
        self.win: tuple[float, float] | None = None
        self.maxval = (1 << chain.bits_stored) - 1

    @property
    def attenuation_positive(self) -> bool:
        return self.c.response == "log"

    def derived(self) -> dict:
        """Pixel Intensity Relationship, its Sign and the resulting display polarity."""
        c = self.c
        if c.lut == "none":
            pir = {"log": "LOG", "linear": "LIN"}.get(c.response, "DISP")
            rises_with_intensity = not self.attenuation_positive
        else:
            pir = "DISP"
            bright_is_intensity = c.polarity == "iodine_dark"
            rises_with_intensity = bright_is_intensity == (c.photometric == "MONOCHROME2")
        sign = 1 if rises_with_intensity else -1
        # displayed brightness rises with intensity <=> iodine (low intensity) shows dark
        displayed_rises = rises_with_intensity == (c.photometric == "MONOCHROME2")
        polarity = "iodine_dark" if displayed_rises else "iodine_bright"
        return {"pixel_intensity_relationship": pir, "sign": sign, "display_polarity": polarity}

    def process(
        self, raw: np.ndarray, info: dict, mask: np.ndarray, fluoro: bool
    ) -> tuple[np.ndarray, dict]:
        c = self.c
        floor = 0.5 * max(info["g_open"], 1e-6)
        x = np.maximum(raw, floor)
        if c.response == "log":
            y = np.log(max(info["open_signal"], floor) / x)
        elif c.response == "linear":
            y = x / max(info["ref_signal"], 1e-9)
        else:
            y = (x / max(info["ref_signal"], 1e-9)) ** c.gamma
        y = y.astype(np.float32)
        if fluoro and c.recursive_alpha < 1.0:
            if self.prev is not None and self.prev.shape == y.shape:
                y = c.recursive_alpha * y + (1 - c.recursive_alpha) * self.prev
            self.prev = y
        if c.unsharp is not None:
            sigma, gain = c.unsharp
            y = y + gain * (y - ndimage.gaussian_filter(y, sigma))
        # histogram analysis over attenuated, exposed pixels (direct exposure excluded)
        # (central 60 % of the field, where the anatomy of interest is)
        h, w = mask.shape
        central = np.zeros_like(mask)
        central[int(0.2 * h) : int(0.8 * h), int(0.2 * w) : int(0.8 * w)] = True
        anat = mask & central & (raw < 0.6 * info["open_signal"])
        if anat.sum() < 0.05 * mask.size:
            anat = mask & central if (mask & central).any() else mask
        vals = y[anat] if anat.any() else y.ravel()
        meta: dict = {}
        if c.lut == "none":
            if self.scale is None:
                top = float(np.percentile(vals, 99.9))
                self.scale = 0.8 * self.maxval / max(top, 1e-6)
            v = y * self.scale
            stored = np.clip(np.round(v), 0, self.maxval)
            blank_dark = 0 if c.photometric == "MONOCHROME2" else self.maxval
            meta["scale"] = self.scale
        else:
            lo, hi = (float(q) for q in np.percentile(vals, [1.0, 99.0]))
            if fluoro and self.win is not None:
                lo = 0.7 * self.win[0] + 0.3 * lo
                hi = 0.7 * self.win[1] + 0.3 * hi
            self.win = (lo, hi)
            hi = max(hi, lo + 1e-6)
            if c.lut == "linear_window":
                v = np.clip((y - lo) / (hi - lo), 0, 1)
            else:
                mid = 0.5 * (lo + hi)
                w = (hi - lo) / 6.0
                v = 1.0 / (1.0 + np.exp(-(y - mid) / w))
                v = (v - 1 / (1 + np.exp(3.0))) / (1 / (1 + np.exp(-3.0)) - 1 / (1 + np.exp(3.0)))
                v = np.clip(v, 0, 1)
            b = v if (self.attenuation_positive == (c.polarity == "iodine_bright")) else 1 - v
            out = b if c.photometric == "MONOCHROME2" else 1 - b
            stored = np.round(out * self.maxval)
            blank_dark = 0 if c.photometric == "MONOCHROME2" else self.maxval
            meta["window"] = (lo, hi)
        blank_bright = self.maxval - blank_dark
        if c.shutter == "blank_dark":
            stored = np.where(mask, stored, blank_dark)
        elif c.shutter == "blank_bright":
            stored = np.where(mask, stored, blank_bright)
        if c.mirror:
            stored = stored[:, ::-1]
        dtype = np.uint8 if c.bits_stored == 8 else np.uint16
        stored = stored.astype(dtype)
        sv = stored[mask[:, ::-1] if c.mirror else mask]
        if c.lut == "none" and sv.size:
            lo, hi = np.percentile(sv, [1, 99])
            meta["window_center"] = float((lo + hi) / 2)
            meta["window_width"] = float(max(hi - lo, 2))
        else:
            meta["window_center"] = float((self.maxval + 1) / 2)
            meta["window_width"] = float(self.maxval + 1)
        return stored, meta
