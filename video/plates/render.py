"""Draw Chinese licence plates to the GA 36 layout, for training data and sample media.

No photos of plates can be downloaded here, so every model of the plate path learns from
plates drawn by this module. It follows the standard's geometry (440x140 mm single row,
480x140 mm new-energy, 440x220 mm double row; 45x90 mm characters, a dot after the issuing
prefix) and varies what differs between real plates: stroke weight, tint, wear, rivets,
frame. Camera effects (perspective, blur, light) belong to the scene generators, not here.

Fonts: the committed Noto Sans SC subset in `fonts/` always works (no apt needed); when
extra fonts are installed (DejaVu, Liberation, WenQuanYi, Noto CJK) and a generator asks
for `varied_fonts=True`, they are mixed in so that models do not learn one typeface.
A generator that passes `typeface_rng` draws a typeface nearer the plates' own engineering
font instead (narrow DIN-like Latin fonts, more CJK weights, thinner or heavier strokes, and
the plate's "1": a narrow bar, not a desktop font's flagged, footed "1", which real plates
showed our readers reading as "T"), and the layouts the standard draws beside the usual ones:
the 220x140 mm motorcycle plate and the police plate with its dot after the province.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from video.plates.grammar import DIGITS, LETTERS, PROVINCES, normalize_plate

KINDS = ("blue", "yellow", "yellow_double", "green", "white_police", "black")
FONT_DIR = Path(__file__).resolve().parent / "fonts"
_BUNDLED = [FONT_DIR / "NotoSansSC-Bold-plates.otf", FONT_DIR / "NotoSansSC-Regular-plates.otf"]
_SYSTEM_CJK = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
]
_SYSTEM_LATIN = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf", 0),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf", 0),
]
_PLATE_LIKE_LATIN = [
    ("/usr/share/fonts/truetype/opendin/OSP-DIN.ttf", 0),
    ("/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Medium.ttf", 0),
    ("/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf", 0),
    ("/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Regular.otf", 0),
    ("/usr/share/fonts/truetype/freefont/FreeSansBold.ttf", 0),
    ("/usr/share/fonts/opentype/b612/B612-Bold.otf", 0),
]
_PLATE_LIKE_CJK = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Black.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-DemiLight.ttc", 2),
]


@dataclass(frozen=True)
class _Cell:
    x: float
    y: float
    w: float
    h: float


def _single_row_cells() -> list[_Cell]:
    xs = [15.5, 72.5, 151.5, 208.5, 265.5, 322.5, 379.5]
    return [_Cell(x, 25, 45, 90) for x in xs]


def _green_cells() -> list[_Cell]:
    xs = [15.5, 67.5] + [145.5 + 54.5 * i for i in range(6)]
    return [_Cell(x, 25, 43, 90) for x in xs]


def _double_row_cells() -> list[_Cell]:
    top = [_Cell(110, 15, 80, 60), _Cell(250, 15, 80, 60)]
    bottom = [_Cell(27.5 + 80 * i, 90, 65, 110) for i in range(5)]
    return top + bottom


def _motorcycle_cells() -> list[_Cell]:
    """GA 36's motorcycle plate (220x140 mm): the double-row layout at half width, so an
    occluder hides the same slots (hidden_slots) on both."""
    return [_Cell(c.x / 2, c.y * 140 / 220, c.w / 2, c.h * 140 / 220) for c in _double_row_cells()]


def _police_cells() -> list[_Cell]:
    """A white police plate with its dot after the province glyph (鄂·F8888警), as police
    plates are often made: the six glyphs after it evenly spaced."""
    return [_Cell(15.5, 25, 45, 90)] + [_Cell(87.5 + 57 * i, 25, 45, 90) for i in range(6)]


_VARIANTS = {
    "yellow_double": ((220, 140), _motorcycle_cells(), (110.0, 45 * 140 / 220)),
    "white_police": ((440, 140), _police_cells(), (74.0, 70)),
}
"""Layouts drawn only by the plate-like path (`typeface_rng`), for the kinds that have them."""

_LAYOUT = {
    "blue": ((440, 140), _single_row_cells(), (134.5, 70)),
    "yellow": ((440, 140), _single_row_cells(), (134.5, 70)),
    "white_police": ((440, 140), _single_row_cells(), (134.5, 70)),
    "black": ((440, 140), _single_row_cells(), (134.5, 70)),
    "green": ((480, 140), _green_cells(), (124.0, 70)),
    "yellow_double": ((440, 220), _double_row_cells(), (220.0, 45)),
}

HIDDEN_FRACTION = 0.3
"""A glyph with this much of its width covered counts as hidden: not readable from the pixels."""


def hidden_slots(kind: str, covered: tuple[float, float]) -> tuple[int, ...]:
    """The slots of a `kind` plate whose glyph an object hides, given the covered span of the
    plate's width as fractions (0 left edge, 1 right edge): those covered by at least
    HIDDEN_FRACTION of their width. What the readers are taught not to guess. Measured on
    the kind's usual layout: the motorcycle variant has the same proportions, but the police
    variant's glyphs after the first sit 7-15 mm (up to a third of a glyph) from where the
    usual layout puts them, so a glyph covered near the bar's threshold can be labelled
    wrongly there."""
    (w_mm, _), cells, _ = _LAYOUT[kind]
    lo, hi = covered
    hidden = []
    for i, cell in enumerate(cells):
        x0, x1 = cell.x / w_mm, (cell.x + cell.w) / w_mm
        if max(0.0, min(hi, x1) - max(lo, x0)) >= HIDDEN_FRACTION * (x1 - x0):
            hidden.append(i)
    return tuple(hidden)


# BGR colours of plate background and characters (before tint noise)
_BG = {
    "blue": (190, 70, 10),
    "yellow": (20, 190, 245),
    "yellow_double": (20, 190, 245),
    "white_police": (245, 245, 245),
    "black": (20, 20, 20),
}
_FG = {
    "blue": (250, 250, 250),
    "yellow": (15, 15, 15),
    "yellow_double": (15, 15, 15),
    "white_police": (15, 15, 15),
    "black": (250, 250, 250),
    "green": (15, 15, 15),
}
_RED = (40, 30, 215)


@lru_cache(maxsize=64)
def _font(path: str, index: int, size: int = 128) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size, index=index)


def _available(paths: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(p, i) for p, i in paths if Path(p).exists()]


TRAINING_FONT_PACKAGES = ("fonts-noto-cjk fonts-noto-cjk-extra fonts-wqy-zenhei fonts-wqy-microhei "
                          "fonts-liberation fonts-dejavu-core fonts-opendin fonts-roboto-unhinted "
                          "fonts-urw-base35 fonts-freefont-ttf fonts-b612")
"""Debian packages whose fonts `varied_fonts=True` and `typeface_rng` mix in: the plate
models were trained on data drawn with them installed; without them the same seeds draw
other plates."""


def missing_training_fonts() -> list[str]:
    """Font files of TRAINING_FONT_PACKAGES that this machine lacks (empty: data as recorded)."""
    every = _SYSTEM_CJK + _SYSTEM_LATIN + _PLATE_LIKE_LATIN + _PLATE_LIKE_CJK
    return [p for p, _ in every if not Path(p).exists()]


def _pick_fonts(rng: np.random.Generator, varied: bool) -> tuple[tuple[str, int], tuple[str, int]]:
    bundled = [(str(p), 0) for p in _BUNDLED]
    cjk = bundled + (_available(_SYSTEM_CJK) if varied else [])
    latin = bundled + (_available(_SYSTEM_LATIN) if varied else [])
    cjk_choice = cjk[0] if not varied else cjk[int(rng.integers(len(cjk)))]
    latin_choice = latin[0] if not varied else latin[int(rng.integers(len(latin)))]
    return cjk_choice, latin_choice


@dataclass(frozen=True)
class _Typeface:
    cjk: tuple[str, int]
    latin: tuple[str, int]
    stroke: int
    """Pixels of dilation (> 0) or erosion (< 0) of every glyph."""
    bar_one: tuple[float, float, float, float] | None
    """The plate's "1" drawn as a bar: (stroke, flag, serif, serif height) as fractions of
    the glyph's height; None: the Latin font's own "1"."""
    variant: bool = False
    """Draw the kind's other layout (_VARIANTS: the motorcycle plate, the police plate with
    its dot after the province) where it has one."""


def _plate_like_typeface(rng: np.random.Generator) -> _Typeface:
    bundled = [(str(p), 0) for p in _BUNDLED]
    cjk = bundled + _available(_SYSTEM_CJK + _PLATE_LIKE_CJK)
    latin = _available(_PLATE_LIKE_LATIN) or bundled
    bar_one = None
    if rng.random() < 0.75:
        serifs = rng.random() < 0.35
        bar_one = (float(rng.uniform(0.085, 0.14)), float(rng.uniform(0.0, 0.11)) * (rng.random() < 0.7),
                   float(rng.uniform(0.015, 0.04)) * serifs, float(rng.uniform(0.02, 0.05)) * serifs)
    return _Typeface(cjk=cjk[int(rng.integers(len(cjk)))], latin=latin[int(rng.integers(len(latin)))],
                     stroke=int(rng.integers(-1, 3)), bar_one=bar_one, variant=bool(rng.random() < 0.4))


@lru_cache(maxsize=256)
def _bar_one_mask(stroke: float, flag: float, serif: float, serif_h: float, height: int = 200) -> np.ndarray:
    """The "1" of plate typefaces: a vertical bar, maybe a short flag to the upper left and
    short serifs at its ends, in a mask as wide as the narrowest glyph cell (0.35 of the
    cell's 45 mm at 90 mm high), so that it is stamped at its true, narrow width."""
    width = int(round(0.175 * height))
    bar = max(2, int(round(stroke * height)))
    mask = np.zeros((height, width), np.uint8)
    x0 = (width - bar) // 2 + int(round(flag * height / 3))
    x1 = x0 + bar
    cv2.rectangle(mask, (x0, 0), (x1 - 1, height - 1), 255, -1)
    if flag > 0:
        f = flag * height
        pts = np.array([[x0, 0], [x0, int(bar * 0.9)], [int(x0 - f), int(bar * 0.9 + f * 0.55)],
                        [int(x0 - f), int(f * 0.55)]], np.int32)
        cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA)
    if serif > 0:
        s, sh = int(round(serif * height)), max(1, int(round(serif_h * height)))
        cv2.rectangle(mask, (max(0, x0 - s), 0), (min(width - 1, x1 - 1 + s), sh), 255, -1)
        cv2.rectangle(mask, (max(0, x0 - s), height - 1 - sh), (min(width - 1, x1 - 1 + s), height - 1), 255, -1)
    return mask


@lru_cache(maxsize=4096)
def _glyph_mask(char: str, path: str, index: int) -> np.ndarray:
    """Ink of one character, cropped tight (uint8 0..255)."""
    font = _font(path, index)
    canvas = Image.new("L", (220, 220), 0)
    ImageDraw.Draw(canvas).text((40, 20), char, font=font, fill=255)
    mask = np.asarray(canvas)
    ys, xs = np.nonzero(mask > 40)
    if len(xs) == 0:
        raise ValueError(f"font {path} has no glyph for {char!r}")
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _stamp(img: np.ndarray, mask: np.ndarray, cell: _Cell, scale: float, color, bold: int) -> None:
    """Fit a glyph into its cell (digits and letters fill it; narrow glyphs keep their width)."""
    x, y, w, h = (int(round(v * scale)) for v in (cell.x, cell.y, cell.w, cell.h))
    mh, mw = mask.shape
    target_w = min(w, max(int(round(mw * h / mh)), int(w * 0.35)))
    glyph = cv2.resize(mask, (max(target_w, 1), max(h, 1)), interpolation=cv2.INTER_AREA)
    if bold:
        kernel = np.ones((abs(bold) + (bold < 0),) * 2, np.uint8)
        glyph = cv2.dilate(glyph, kernel) if bold > 0 else cv2.erode(glyph, kernel)
    x0 = x + (w - glyph.shape[1]) // 2
    roi = img[y : y + glyph.shape[0], x0 : x0 + glyph.shape[1]]
    alpha = (glyph[: roi.shape[0], : roi.shape[1]].astype(np.float32) / 255.0)[..., None]
    roi[:] = (roi * (1 - alpha) + np.array(color, np.float32) * alpha).astype(np.uint8)


def _background(kind: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    if kind == "green":
        top = np.array([235, 245, 225], np.float32) + rng.normal(0, 8, 3)
        bottom = np.array([110, 200, 70], np.float32) + rng.normal(0, 12, 3)
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] ** rng.uniform(0.6, 1.4)
        img = top * (1 - t) + bottom * t
        return np.clip(np.broadcast_to(img, (h, w, 3)), 0, 255).astype(np.uint8).copy()
    base = np.array(_BG[kind], np.float32) + rng.normal(0, 10, 3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    # gentle left-right / top-bottom shading: plates are never evenly lit
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None] * rng.normal(0, 10)
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None] * rng.normal(0, 10)
    return np.clip(img + gx + gy, 0, 255).astype(np.uint8)


def render_plate(text: str, kind: str, rng: np.random.Generator | None = None,
                 *, px_per_mm: float = 1.0, varied_fonts: bool = False,
                 typeface_rng: np.random.Generator | None = None) -> np.ndarray:
    """A BGR image of one plate, `px_per_mm` pixels per millimetre (440 px wide by default).

    `text` is any spelling `normalize_plate` accepts; its length must fit the kind
    (7 characters, 8 for green). Raises ValueError for an invalid plate or kind.
    `typeface_rng` draws a plate-like typeface (see the module docstring) from a generator
    of its own, so that `rng` draws the same plate with or without it.
    """
    if kind not in _LAYOUT:
        raise ValueError(f"unknown plate kind {kind!r}; expected one of {', '.join(KINDS)}")
    plate = normalize_plate(text)
    if plate is None:
        raise ValueError(f"{text!r} is not a valid Chinese plate")
    rng = rng or np.random.default_rng()
    face = _plate_like_typeface(typeface_rng) if typeface_rng is not None else None
    (w_mm, h_mm), cells, dot = _VARIANTS[kind] if face and face.variant and kind in _VARIANTS else _LAYOUT[kind]
    if len(plate) != len(cells):
        raise ValueError(f"{kind} plates have {len(cells)} characters, {plate!r} has {len(plate)}")
    s = px_per_mm
    size = (int(round(w_mm * s)), int(round(h_mm * s)))
    img = _background(kind, size, rng)
    fg = np.clip(np.array(_FG[kind], np.float32) + rng.normal(0, 8, 3), 0, 255)
    fg_t = tuple(float(v) for v in fg)
    # frame line inset a few millimetres, in the character colour
    inset = int(round(rng.uniform(2.0, 4.0) * s))
    thick = max(1, int(round(rng.uniform(1.0, 2.2) * s)))
    cv2.rectangle(img, (inset, inset), (size[0] - inset - 1, size[1] - inset - 1), fg_t, thick,
                  lineType=cv2.LINE_AA)
    cjk_font, latin_font = _pick_fonts(rng, varied_fonts)
    bold = int(rng.integers(0, 3)) if varied_fonts else 0
    if face is not None:
        cjk_font, latin_font, bold = face.cjk, face.latin, face.stroke
    for i, (char, cell) in enumerate(zip(plate, cells, strict=True)):
        is_cjk = char in PROVINCES or not (char in LETTERS or char in DIGITS)
        path, index = cjk_font if is_cjk else latin_font
        color = fg_t
        if char in "警领使" or (char in "港澳" and rng.random() < 0.3):
            color = _RED
        if kind == "white_police" and i == 0:
            color = fg_t
        if face is not None and face.bar_one is not None and char == "1":
            mask = _bar_one_mask(*face.bar_one)
        else:
            mask = _glyph_mask(char, path, index)
        _stamp(img, mask, cell, s, color, bold)
    if not plate.startswith("使"):
        cv2.circle(img, (int(dot[0] * s), int(dot[1] * s)), max(1, int(round(4.5 * s))), fg_t, -1,
                   lineType=cv2.LINE_AA)
    if rng.random() < 0.7:  # rivets
        for rx in (0.22, 0.78):
            cx, cy = int(size[0] * rx), int(rng.uniform(10, 14) * s)
            cv2.circle(img, (cx, cy), max(1, int(round(4 * s))),
                       tuple(float(v) for v in rng.uniform(120, 220, 3)), -1, lineType=cv2.LINE_AA)
    return img


def random_plate_text(kind: str, rng: np.random.Generator) -> str:
    """A random, valid plate string of the given kind (as issued, e.g. '苏E12G45')."""
    if kind not in _LAYOUT:
        raise ValueError(f"unknown plate kind {kind!r}; expected one of {', '.join(KINDS)}")

    def pick(chars: str, n: int = 1) -> str:
        return "".join(chars[int(i)] for i in rng.integers(0, len(chars), n))

    def serial(n: int) -> str:
        # mostly digits with up to three letters, like issued serials
        letters = int(rng.choice([0, 0, 1, 1, 2, 3]))
        chars = [pick(DIGITS) for _ in range(n)]
        for pos in rng.choice(n, size=min(letters, n), replace=False):
            chars[int(pos)] = pick(LETTERS)
        return "".join(chars)

    prov, issuer = pick(PROVINCES), pick(LETTERS)
    if kind == "green":
        if rng.random() < 0.7:
            return prov + issuer + pick("DABCEFGHJK") + pick(LETTERS + DIGITS) + pick(DIGITS, 4)
        return prov + issuer + pick(DIGITS, 5) + pick("DABCEFGHJK")
    if kind == "white_police":
        return prov + issuer + serial(4) + "警"
    if kind == "black":
        roll = rng.random()
        if roll < 0.35:
            return "粤Z" + serial(4) + pick("港澳")
        if roll < 0.6:
            return prov + issuer + pick(DIGITS, 4) + "领"
        if roll < 0.75:
            return "使" + pick(DIGITS, 6)
        return prov + issuer + serial(5)
    if kind in ("yellow", "yellow_double") and rng.random() < 0.2:
        return prov + issuer + serial(4) + pick("学挂" if kind == "yellow" else "挂")
    return prov + issuer + serial(5)
