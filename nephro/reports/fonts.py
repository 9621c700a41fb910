"""Fonts for the PDFs (report and patient handout), with every script a name may use.

fpdf2's core fonts cover Latin-1 only ("Łukasz" printed as "?ukasz"). DejaVu Sans covers
Latin, Greek, Cyrillic, Hebrew and Arabic; Droid Sans Fallback adds Chinese, Japanese and
Korean and is loaded only for text that needs it (parsing it costs about a second).
Arabic and Hebrew are shaped by HarfBuzz (uharfbuzz: letters joined, right to left),
switched on only for text in those scripts (shaping Latin text costs 4x the time).
Both fonts come from Debian packages that `make system-deps` installs.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF

BODY, FALLBACK = "Body", "Fallback"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FILES = {
    "": DEJAVU / "DejaVuSans.ttf",  # fonts-dejavu-core
    "B": DEJAVU / "DejaVuSans-Bold.ttf",
}
CJK = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")  # fonts-droid-fallback
PACKAGES = "fonts-dejavu-core fonts-droid-fallback"

# Scripts written right to left or with joined letters: Hebrew, Arabic, Syriac, Thaana,
# N'Ko, Samaritan, Mandaic, Arabic Extended, and the presentation forms.
_SHAPED = ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF))


class FontsMissing(RuntimeError):
    """The PDF fonts are not installed."""


@functools.cache
def _covered(path: Path) -> frozenset[int]:
    font = TTFont(path, lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


def _covers(text: str) -> bool:
    """Whether the body font has every letter of the text."""
    covered = _covered(FILES[""])
    return all(ord(char) in covered for char in set(text) if not char.isspace())


def needs_shaping(text: str) -> bool:
    return any(low <= ord(char) <= high for char in text for low, high in _SHAPED)


class UnicodePDF(FPDF):
    """An A4 document in the body font (family BODY, styles "" and "B").

    ``texts`` is the document's variable text (names, report text): the CJK fallback is
    added when it has a letter the body font lacks. It comes in one style (a second
    would cost another second), so bold text that needs it is set regular. Each cell
    switches shaping on only for text that needs it.
    """

    def __init__(self, *texts: str):
        super().__init__(format="A4")
        for path in [*FILES.values(), CJK]:
            if not path.is_file():
                raise FontsMissing(f"{path} is missing: install {PACKAGES} (make system-deps)")
        for style, path in FILES.items():
            self.add_font(BODY, style, str(path))
        self.fallback = not _covers("".join(texts))
        if self.fallback:
            self.add_font(FALLBACK, "", str(CJK))
            self.set_fallback_fonts([FALLBACK])

    @contextmanager
    def _fitting(self, text: str):
        self.set_text_shaping(needs_shaping(text))
        style = self.font_style
        plain = self.fallback and "B" in style and not _covers(text)
        if plain:
            self.set_font(style=style.replace("B", ""))
        try:
            yield
        finally:
            if plain:
                self.set_font(style=style)

    def cell(self, w=None, h=None, text="", *args, **kwargs):
        with self._fitting(text):
            return super().cell(w, h, text, *args, **kwargs)

    def multi_cell(self, w, h=None, text="", *args, **kwargs):
        with self._fitting(text):
            return super().multi_cell(w, h, text, *args, **kwargs)
