"""Text drawn as glyph outlines: all the texts of one call are one filled
path per colour.

Why not matplotlib's `Text`: each one is laid out (libraqm) and rasterized
on its own, and a chart's two or three dozen labels (ticks, title,
annotations, boxes) were about half of its drawing time. Here a
character's outline and advance, and a pair's kerning, are read from the
font once per process, and a call places the glyphs of all its texts with
numpy and adds one `PathPatch`, which Agg fills in one pass.

What it keeps from matplotlib's texts: the font (found by font_manager, as
`Text` finds it), the kerning (FreeType's, which is what libraqm applies
to DejaVu Sans), the alignments and the line spacing as matplotlib 3.11
measures them (the font's typographic ascent and descent), except that
`va="center"` puts a line's digits and capitals, not its box with the
descender, in the middle, so a number sits on its grid line. What it
leaves out: hinting (the outlines are filled unhinted and antialiased;
baselines and line starts sit on whole pixels, which keeps them crisp),
shaping (one glyph per character, enough for the Latin labels of the
charts) and mathtext.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ft2font import Kerning, LoadFlags
from matplotlib.patches import FancyBboxPatch, PathPatch
from matplotlib.path import Path
from matplotlib.transforms import IdentityTransform

# The font is read at this many pixels per em (at 72 dpi, points); outlines are kept in ems.
EM = 100.0
# Texts a user chose (a producer's name) may bring any character: past this
# many, a glyph or pair is read from the font each time instead of kept.
MAX_KEPT = 4096


@dataclass(frozen=True)
class Font:
    family: str
    points: float
    weight: str = "normal"


@dataclass(frozen=True)
class Box:
    """A text block's extent in display pixels (y up)."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class _Glyph:
    outline: np.ndarray  # (n, 2) vertices in ems, pen at the origin, baseline at y = 0
    codes: np.ndarray
    advance: float       # ems
    index: int


class _Face:
    """One font file's glyphs and kerning, read as they are first needed.

    Dict reads and writes are atomic, so threads may share a face: two
    threads missing the same glyph both read it, and one result stays."""

    def __init__(self, family: str, weight: str):
        self._file = findfont(FontProperties(family=family, weight=weight))
        self._glyphs: dict[str, _Glyph] = {}
        self._pairs: dict[tuple[str, str], float] = {}
        font = self._font()
        em = font.get_sfnt_table("head")["unitsPerEm"]
        typo, hhea = font.get_sfnt_table("OS/2"), font.get_sfnt_table("hhea")
        # The line metrics matplotlib's `Text` uses: the typographic ones, else hhea's.
        if typo is not None:
            self.ascent, self.descent = typo["sTypoAscender"] / em, -typo["sTypoDescender"] / em
        else:
            self.ascent, self.descent = hhea["ascent"] / em, -hhea["descent"] / em
        zero = self.glyph("0")
        self.digits = float(zero.outline[zero.codes != Path.CLOSEPOLY, 1].max())

    def _font(self):
        font = get_font(self._file)  # matplotlib's FT2Font of this thread
        font.set_size(EM, 72)
        return font

    def glyph(self, char: str) -> _Glyph:
        glyph = self._glyphs.get(char)
        if glyph is None:
            font = self._font()
            loaded = font.load_char(ord(char), flags=LoadFlags.NO_HINTING)
            vertices, codes = font.get_path()
            glyph = _Glyph(np.asarray(vertices, dtype=float).reshape(-1, 2) / EM, np.asarray(codes, dtype=np.uint8),
                           loaded.horiAdvance / 64 / EM, font.get_char_index(ord(char)))
            if len(self._glyphs) < MAX_KEPT:
                self._glyphs[char] = glyph
        return glyph

    def kerning(self, left: str, right: str) -> float:
        pair = (left, right)
        kern = self._pairs.get(pair)
        if kern is None:
            kern = self._font().get_kerning(self.glyph(left).index, self.glyph(right).index,
                                            Kerning.UNFITTED) / 64 / EM
            if len(self._pairs) < MAX_KEPT:
                self._pairs[pair] = kern
        return kern

    def line(self, text: str) -> tuple[list[_Glyph], list[float], float]:
        """The glyphs of one line, each one's pen position and the line's advance, in ems."""
        glyphs, at, pen, before = [], [], 0.0, None
        for char in text:
            if before is not None:
                pen += self.kerning(before, char)
            glyph = self.glyph(char)
            glyphs.append(glyph)
            at.append(pen)
            pen += glyph.advance
            before = char
        return glyphs, at, pen


@lru_cache(maxsize=16)
def _face(family: str, weight: str) -> _Face:
    return _Face(family, weight)


def _em_px(font: Font, dpi: float) -> float:
    return font.points * dpi / 72


def _place(face: _Face, lines: Sequence[str], x: float, y: float, *, em: float, ha: str, va: str,
           linespacing: float) -> tuple[list[tuple[float, float, list[_Glyph], list[float]]], Box]:
    """Each line's start and baseline (whole pixels), glyphs and pen
    positions, and the block's box. As in matplotlib, one line is as tall as
    the font's ascent and descent, and each of several lines `linespacing`
    ems, its baseline where those metrics centre it."""
    if len(lines) == 1:
        height, baselines = face.ascent + face.descent, [face.ascent]
    else:
        height = linespacing * len(lines)
        baselines = [(k + 0.5) * linespacing + (face.ascent - face.descent) / 2 for k in range(len(lines))]
    top = y + {"top": 0.0, "center": height / 2, "bottom": height, "baseline": baselines[0]}[va] * em
    # One line centred: its digits' middle on y (the box, for a frame, stays centred on y).
    lift = (face.ascent - face.digits / 2 - height / 2) * em if va == "center" and len(lines) == 1 else 0.0
    shift = {"left": 0.0, "center": 0.5, "right": 1.0}[ha]
    placed, x0, x1 = [], np.inf, -np.inf
    for line, baseline in zip(lines, baselines):
        glyphs, at, width = face.line(line)
        start = round(x - width * em * shift)
        placed.append((start, round(top + lift - baseline * em), glyphs, at))
        x0, x1 = min(x0, start), max(x1, start + width * em)
    return placed, Box(x0, top - height * em, x1, top)


def _outline(placed, em: float) -> tuple[np.ndarray, np.ndarray] | None:
    outlines, codes, offsets, counts = [], [], [], []
    for start, baseline, glyphs, at in placed:
        for glyph, pen in zip(glyphs, at):
            if len(glyph.outline):
                outlines.append(glyph.outline)
                codes.append(glyph.codes)
                offsets.append((start + pen * em, baseline))
                counts.append(len(glyph.outline))
    if not outlines:
        return None
    vertices = np.concatenate(outlines) * em + np.repeat(np.asarray(offsets), counts, axis=0)
    return vertices, np.concatenate(codes)


def _add_path(fig, pieces, colour: str, zorder: float):
    pieces = [piece for piece in pieces if piece is not None]
    if pieces:
        path = Path(np.concatenate([v for v, _ in pieces]), np.concatenate([c for _, c in pieces]))
        fig.add_artist(PathPatch(path, transform=IdentityTransform(), facecolor=colour, edgecolor="none",
                                 linewidth=0, zorder=zorder))


def write(fig, texts: Iterable[tuple[float, float, str]], *, font: Font, colour: str, ha: str = "left",
          va: str = "baseline", linespacing: float = 1.2, zorder: float = 6.0):
    """Each (x, y, text), x and y in display pixels, aligned there as `ha`
    and `va` say (lines split at newlines); all as one path in `colour`."""
    face, em = _face(font.family, font.weight), _em_px(font, fig.dpi)
    placed = [_place(face, text.split("\n"), x, y, em=em, ha=ha, va=va, linespacing=linespacing)[0]
              for x, y, text in texts]
    _add_path(fig, [_outline(lines, em) for lines in placed], colour, zorder)


@dataclass(frozen=True)
class Frame:
    """The box drawn around a text block: matplotlib's `FancyBboxPatch`
    style (`pad` in font sizes), fill and edge."""

    facecolor: str
    style: str = "round"
    pad: float = 0.5
    edgecolor: str = "none"
    linewidth: float = 0.0
    alpha: float | None = None


def write_boxed(fig, x: float, y: float, lines: Sequence[tuple[str, str]], *, font: Font, frame: Frame,
                ha: str = "left", va: str = "top", linespacing: float = 1.2, zorder: float = 6.0) -> Box:
    """Lines of (text, colour), aligned at (x, y) in display pixels as one
    block, in a frame; as `ax.text(..., bbox=...)` draws it. Returns the
    frame's box."""
    face, em = _face(font.family, font.weight), _em_px(font, fig.dpi)
    placed, box = _place(face, [text for text, _ in lines], x, y, em=em, ha=ha, va=va, linespacing=linespacing)
    fig.add_artist(FancyBboxPatch((box.x0, box.y0), box.x1 - box.x0, box.y1 - box.y0,
                                  boxstyle=f"{frame.style},pad={frame.pad}", mutation_scale=em,
                                  transform=IdentityTransform(), facecolor=frame.facecolor,
                                  edgecolor=frame.edgecolor, linewidth=frame.linewidth, alpha=frame.alpha,
                                  zorder=zorder - 0.5))
    for colour in dict.fromkeys(colour for _, colour in lines):
        _add_path(fig, [_outline([line for line, (_, c) in zip(placed, lines) if c == colour], em)], colour, zorder)
    pad = frame.pad * em
    return Box(box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad)
