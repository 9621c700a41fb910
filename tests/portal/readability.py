"""Measure patient-facing text the way the team reports it: Flesch-Kincaid grade (textstat).

HTML is read block by block (headings, paragraphs, list items, labels, buttons): each
block counts as one sentence, as a reader sees it, so a list of short items is not
scored as one endless sentence.
"""

from __future__ import annotations

from html.parser import HTMLParser

import textstat

GRADE_LIMIT = 8.0  # clinical.md 11: NIH below 8th grade [P63], CDC at most 8th [OI]

_BLOCKS = {
    "p",
    "li",
    "h1",
    "h2",
    "h3",
    "dt",
    "dd",
    "label",
    "legend",
    "button",
    "a",
    "small",
    "td",
    "th",
    "title",
    "option",
    "div",
    "section",
}
_SKIP = {"script", "style", "head", "header"}


class _Blocks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._skip = 0

    def _flush(self):
        text = " ".join("".join(self._current).split())
        if text:
            self.blocks.append(text)
        self._current = []

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCKS or tag == "br":
            self._flush()

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data):
        if not self._skip:
            self._current.append(data)


def html_blocks(html: str) -> list[str]:
    """The visible text of <main>, one string per block."""
    start = html.find('<main id="main">')
    parser = _Blocks()
    parser.feed(html[start:] if start >= 0 else html)
    parser._flush()
    return parser.blocks


def as_prose(blocks: list[str]) -> str:
    """Join blocks into sentences, ending each that lacks a full stop."""
    return " ".join(b if b[-1] in ".!?:" else b + "." for b in blocks if b)


def grade(text: str) -> float:
    textstat.set_lang("en")
    return float(textstat.flesch_kincaid_grade(text))
