"""Synthetic camera effects and scenes for training the plate detector and reader.

There are no photo datasets offline, so realism comes from variety: plates drawn to the
standard (video/plates/render.py) are warped, lit, blurred, compressed and placed on
backgrounds that are either synthesised (street-like textures, car bodies, signs and
text that are *not* plates) or photos shipped inside installed packages.

GENERATOR_VERSION is recorded in models/plates/manifest.json: bump it when the output changes.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from video.plates.render import KINDS, random_plate_text, render_plate

GENERATOR_VERSION = "plates-synth-3"
"""2: adds the plates' own look (make_reader_data.py --typeface: plate-like fonts, the bar
"1", the motorcycle plate, the police dot after the province); without it every seed draws
what version 1 drew. 3: adds a second pass of the imaging chain (`second_pass`,
make_reader_data.py --second-pass); without it every seed draws what version 2 drew."""
KIND_WEIGHTS = {"blue": 0.34, "yellow": 0.14, "yellow_double": 0.12, "green": 0.2,
                "white_police": 0.08, "black": 0.12}


def pick_kind(rng: np.random.Generator) -> str:
    kinds = list(KIND_WEIGHTS)
    p = np.array([KIND_WEIGHTS[k] for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=p / p.sum()))]


# ------------------------------------------------------------------ backgrounds


def _package_image_paths() -> list[str]:
    """Photos that ship inside installed packages (skimage, matplotlib, ultralytics, ...)."""
    import site

    roots = site.getsitepackages()
    patterns = ["skimage/data/*.png", "skimage/data/*.jpg", "matplotlib/mpl-data/sample_data/*.png",
                "matplotlib/mpl-data/sample_data/*.jpg", "ultralytics/assets/*.jpg",
                "face_recognition_models/**/*.jpg", "rapidocr/**/*.jpg", "rapidocr/**/*.png",
                "sklearn/datasets/images/*.jpg", "PIL/**/*.jpg", "dash/**/*.png"]
    paths: list[str] = []
    for root in roots:
        for pattern in patterns:
            paths.extend(glob.glob(os.path.join(root, pattern), recursive=True))
    return sorted(set(paths))


@lru_cache(maxsize=1)
def package_images() -> list[np.ndarray]:
    images = []
    for path in _package_image_paths():
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is not None and min(img.shape[:2]) >= 120:
            images.append(img)
    return images


def _noise_texture(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Multi-scale value noise: asphalt, walls, foliage depending on colour."""
    acc = np.zeros((h, w), np.float32)
    for octave in range(5):
        cells = 2 ** (octave + 2)
        small = rng.random((cells * h // max(w, 1) + 2, cells + 2)).astype(np.float32)
        acc += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) / (octave + 1)
    acc = (acc - acc.min()) / (np.ptp(acc) + 1e-6)
    base = rng.uniform(30, 220, 3)
    tint = rng.uniform(-60, 60, 3)
    img = base[None, None, :] + (acc[..., None] - 0.5) * tint[None, None, :] * 2
    img += rng.normal(0, rng.uniform(2, 12), (h, w, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


def _street_scene(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Sky, buildings with windows, a road with lane marks: a crude street."""
    img = _noise_texture(h, w, rng)
    horizon = int(h * rng.uniform(0.2, 0.6))
    sky = np.array(rng.uniform([150, 120, 90], [255, 230, 200]), np.float32)
    img[:horizon] = np.clip(img[:horizon] * 0.2 + sky * 0.8, 0, 255).astype(np.uint8)
    x = 0
    while x < w:  # buildings
        bw = int(rng.uniform(0.05, 0.3) * w)
        top = int(horizon * rng.uniform(0.0, 0.8))
        color = tuple(float(c) for c in rng.uniform(60, 230, 3))
        cv2.rectangle(img, (x, top), (x + bw, horizon), color, -1)
        win = tuple(float(c) for c in rng.uniform(20, 255, 3))
        step = int(rng.uniform(10, 30))
        for wy in range(top + 5, horizon - 5, step):
            for wx in range(x + 4, x + bw - 8, step):
                if rng.random() < 0.7:
                    cv2.rectangle(img, (wx, wy), (wx + step // 2, wy + step // 2), win, -1)
        x += bw
    road = np.array(rng.uniform(40, 140), np.float32)
    img[horizon:] = np.clip(img[horizon:] * 0.3 + road * 0.7, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(1, 5))):  # lane marks
        color = (255, 255, 255) if rng.random() < 0.7 else (0, 200, 255)
        p1 = (int(rng.uniform(0, w)), h)
        p2 = (int(rng.uniform(0, w)), horizon)
        cv2.line(img, p1, p2, color, int(rng.integers(2, 12)))
    return img


def background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    roll = rng.random()
    photos = package_images()
    if photos and roll < 0.45:
        src = photos[int(rng.integers(len(photos)))]
        sh, sw = src.shape[:2]
        scale = max(h / sh, w / sw) * rng.uniform(1.0, 1.6)
        big = cv2.resize(src, (int(sw * scale) + 1, int(sh * scale) + 1))
        y0 = int(rng.integers(0, big.shape[0] - h + 1))
        x0 = int(rng.integers(0, big.shape[1] - w + 1))
        img = big[y0 : y0 + h, x0 : x0 + w].copy()
        if rng.random() < 0.5:
            img = img[:, ::-1].copy()
        return img
    if roll < 0.8:
        return _street_scene(h, w, rng)
    return _noise_texture(h, w, rng)


# ------------------------------------------------------------------ distractors


@lru_cache(maxsize=8)
def _text_font(size: int) -> ImageFont.FreeTypeFont:
    from video.plates.render import FONT_DIR

    return ImageFont.truetype(str(FONT_DIR / "NotoSansSC-Bold-plates.otf"), size)


_DISTRACTOR_TEXT = ["2023-08-12 09:12:03", "14:00:49", "蓝牌 84像素", "BANK", "POLICE", "公安",
                    "STOP", "P", "24h", "出口", "京津冀", "新车展厅", "ABC 123", "120", "消防",
                    "ROAD", "1F", "8888", "SALE", "A12", "边防", "HOTEL", "2024年11月1日"]


def draw_distractors(img: np.ndarray, rng: np.random.Generator, n: int) -> None:
    """Things a plate detector must ignore: signs, timestamps, coloured rectangles, car parts."""
    h, w = img.shape[:2]
    for _ in range(n):
        kind = rng.random()
        bw = int(rng.uniform(0.03, 0.3) * w)
        bh = int(bw * rng.uniform(0.15, 1.2))
        x, y = int(rng.uniform(0, w - bw)), int(rng.uniform(0, h - bh))
        color = tuple(float(c) for c in rng.uniform(0, 255, 3))
        if kind < 0.4:  # text on a board, sometimes plate-coloured
            if rng.random() < 0.4:
                color = (190, 70, 10) if rng.random() < 0.5 else (20, 190, 245)
            pil = Image.fromarray(img)
            draw = ImageDraw.Draw(pil)
            if rng.random() < 0.7:
                draw.rectangle((x, y, x + bw, y + bh), fill=tuple(int(c) for c in color[::-1]))
            text = _DISTRACTOR_TEXT[int(rng.integers(len(_DISTRACTOR_TEXT)))]
            size = max(8, int(bh * rng.uniform(0.4, 0.8)))
            fill = tuple(int(c) for c in rng.uniform(0, 255, 3))
            draw.text((x + 2, y + 1), text, font=_text_font(size), fill=fill)
            img[:] = np.asarray(pil)
        elif kind < 0.7:  # grille / vents: stripes
            for k in range(int(rng.integers(3, 10))):
                yy = y + k * max(bh // 8, 2)
                cv2.rectangle(img, (x, yy), (x + bw, yy + max(bh // 16, 1)), color, -1)
        elif kind < 0.85:  # lights
            cv2.ellipse(img, (x + bw // 2, y + bh // 2), (bw // 2, bh // 3), 0, 0, 360,
                        (230, 230, 255) if rng.random() < 0.5 else (40, 40, 200), -1)
        else:
            cv2.rectangle(img, (x, y), (x + bw, y + bh), color, -1)


def draw_car(img: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """A car-like body around where a plate will go: gives the detector honest context."""
    x1, y1, x2, y2 = box
    color = tuple(float(c) for c in rng.choice(
        [[20, 20, 20], [240, 240, 240], [180, 180, 185], [40, 40, 160], [140, 60, 20],
         [60, 60, 60], [30, 90, 200], list(rng.uniform(0, 255, 3))]))
    cv2.rectangle(img, (x1, y1), (x2, y2), color, -1)
    h, w = y2 - y1, x2 - x1
    shade = tuple(max(0.0, c * 0.5) for c in color)
    cv2.rectangle(img, (x1 + w // 5, y1 + h // 5), (x2 - w // 5, y1 + int(h * 0.45)), shade, -1)
    for cx in (x1 + w // 8, x2 - w // 8):
        cv2.ellipse(img, (cx, y1 + h // 3), (max(w // 12, 2), max(h // 14, 2)), 0, 0, 360,
                    (230, 240, 255), -1)


# ------------------------------------------------------------------ geometry and camera


@dataclass
class Placed:
    quad: np.ndarray  # 4x2 float, corners of the plate in the scene (tl, tr, br, bl)
    text: str
    kind: str
    hidden: tuple[int, ...] = ()  # slots whose glyph an occluder hides (render.hidden_slots)

    @property
    def box(self) -> tuple[float, float, float, float]:
        xs, ys = self.quad[:, 0], self.quad[:, 1]
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def weather_plate(plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dirt, fading and uneven light on the plate surface itself."""
    h, w = plate.shape[:2]
    out = plate.astype(np.float32)
    if rng.random() < 0.5:
        blot = cv2.resize(rng.random((4, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        out *= (1 - rng.uniform(0.0, 0.45) * blot)[..., None]
    if rng.random() < 0.3:
        out = out * rng.uniform(0.6, 1.0) + rng.uniform(0, 60)
    if rng.random() < 0.2:  # specks of mud
        for _ in range(int(rng.integers(3, 30))):
            cv2.circle(out, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), int(rng.integers(1, 4)),
                       tuple(float(c) for c in rng.uniform(40, 120, 3)), -1)
    return np.clip(out, 0, 255).astype(np.uint8)


def paste_plate(scene: np.ndarray, plate: np.ndarray, center: tuple[float, float], width: float,
                rng: np.random.Generator, *, max_skew: float = 0.12, max_rot: float = 10,
                holder: bool = True) -> np.ndarray:
    """Warp `plate` into `scene` around `center` at `width` px; returns the 4 corners."""
    ph, pw = plate.shape[:2]
    height = width * ph / pw
    angle = math.radians(rng.uniform(-max_rot, max_rot))
    cx, cy = center
    base = np.array([[-width / 2, -height / 2], [width / 2, -height / 2],
                     [width / 2, height / 2], [-width / 2, height / 2]], np.float32)
    # perspective: shrink one side (yaw) or top/bottom (pitch)
    yaw = rng.uniform(-max_skew, max_skew) * 2
    pitch = rng.uniform(-max_skew, max_skew)
    base[[0, 3], 1] *= 1 - max(0.0, yaw)
    base[[1, 2], 1] *= 1 - max(0.0, -yaw)
    base[[0, 1], 0] *= 1 - max(0.0, pitch)
    base[[2, 3], 0] *= 1 - max(0.0, -pitch)
    base[:, 0] *= 1 - abs(yaw) * 0.5
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], np.float32)
    quad = base @ rot.T + np.array([cx, cy], np.float32)
    quad += rng.normal(0, width * 0.006, quad.shape).astype(np.float32)
    if holder and rng.random() < 0.5:  # a dark plate holder a little larger than the plate
        grow = (quad - quad.mean(0)) * rng.uniform(1.04, 1.12) + quad.mean(0)
        cv2.fillConvexPoly(scene, grow.astype(np.int32), tuple(float(c) for c in rng.uniform(0, 90, 3)),
                           lineType=cv2.LINE_AA)
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    h, w = scene.shape[:2]
    warped = cv2.warpPerspective(plate, m, (w, h), flags=cv2.INTER_AREA if width < pw else cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h))
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    scene[:] = (scene * (1 - alpha) + warped * alpha).astype(np.uint8)
    return quad


def camera(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Light, optics and compression: night, glare, blur, noise, colour cast, JPEG."""
    out = img.astype(np.float32)
    h, w = img.shape[:2]
    if rng.random() < 0.2 * strength:  # night: dark, blue-ish, noisy
        out = out * rng.uniform(0.15, 0.5) + np.array(rng.uniform(0, 20, 3), np.float32)
    if rng.random() < 0.15 * strength:  # glare blob
        gx, gy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.05, 0.4) * max(h, w)
        yy, xx = np.mgrid[0:h, 0:w]
        glare = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r)).astype(np.float32)
        out += glare[..., None] * rng.uniform(60, 200)
    out = out * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)  # contrast / brightness
    out *= np.array(rng.uniform(0.85, 1.15, 3), np.float32)  # white balance
    out = np.clip(out, 0, 255)
    gamma = rng.uniform(0.7, 1.4)
    out = 255.0 * (out / 255.0) ** gamma
    img8 = out.astype(np.uint8)
    if rng.random() < 0.5 * strength:
        k = int(rng.choice([3, 3, 5]))
        img8 = cv2.GaussianBlur(img8, (k, k), rng.uniform(0.3, 1.5))
    if rng.random() < 0.2 * strength:  # motion blur
        k = int(rng.integers(3, 9))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        img8 = cv2.filter2D(img8, -1, kernel / max(kernel.sum(), 1e-6))
    if rng.random() < 0.6 * strength:
        sigma = rng.uniform(1, 12)
        img8 = np.clip(img8 + rng.normal(0, sigma, img8.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.8:
        quality = int(rng.uniform(25, 95))
        ok, buf = cv2.imencode(".jpg", img8, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            img8 = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return img8


def second_pass(img: np.ndarray, rng: np.random.Generator, plate_width: float) -> np.ndarray:
    """The imaging chain once more, as most pictures go through it twice or more: a camera's
    encoder, then a screenshot of the video, a resize for the web, a digital zoom. Each pass
    resamples (down, then up again), sharpens (a camera's unsharp mask leaves bright halos
    beside dark strokes), bleeds colour (chroma subsampling) and compresses. `plate_width`
    bounds the downscale so that the plate keeps >= 64 px: what is left must still be legible,
    or its label would teach guessing."""
    out = img
    h, w = img.shape[:2]
    low = max(0.4, 64.0 / max(plate_width, 1.0))
    if low < 0.9 and rng.random() < 0.7:
        f = rng.uniform(low, 0.9)
        down = [cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_NEAREST][int(rng.integers(3))]
        small = cv2.resize(out, (max(1, int(w * f)), max(1, int(h * f))), interpolation=down)
        if rng.random() < 0.5:
            ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(30, 90))])
            if ok:
                small = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        up = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST][int(rng.integers(3))]
        out = cv2.resize(small, (w, h), interpolation=up)
    if rng.random() < 0.5:
        soft = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 2.0))
        amount = rng.uniform(0.4, 1.5)
        out = cv2.addWeighted(out, 1 + amount, soft, -amount, 0)
    if rng.random() < 0.3:
        ycc = cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb)
        k = int(rng.choice([3, 5]))
        ycc[..., 1:] = cv2.blur(ycc[..., 1:], (k, k))
        out = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)
    if rng.random() < 0.7:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(35, 92))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def occlude(img: np.ndarray, box: tuple[float, float, float, float], rng: np.random.Generator,
            max_fraction: float = 0.25) -> tuple[float, float]:
    """Cover part of a plate's box (a bar, a leg, a sticker), at most `max_fraction` of its
    width, from its left or right end; returns the covered span of the box's width as
    fractions (0 left edge, 1 right edge), for `render.hidden_slots`."""
    x1, y1, x2, y2 = box
    bw = (x2 - x1) * rng.uniform(0.05, max_fraction)
    left = rng.random() < 0.5
    ox1 = x1 - bw * 0.3 if left else x2 - bw
    cv2.rectangle(img, (int(ox1), int(y1 - (y2 - y1) * 0.3)), (int(ox1 + bw), int(y2 + (y2 - y1) * 0.3)),
                  tuple(float(c) for c in rng.uniform(0, 255, 3)), -1)
    width = max(x2 - x1, 1e-6)
    return max(0.0, (ox1 - x1) / width), min(1.0, (ox1 + bw - x1) / width)


def random_plate(rng: np.random.Generator, kind: str | None = None,
                 typeface_rng: np.random.Generator | None = None) -> tuple[np.ndarray, str, str]:
    """A weathered plate image, its text and kind; `typeface_rng`: see render_plate."""
    kind = kind or pick_kind(rng)
    text = random_plate_text(kind, rng)
    plate = render_plate(text, kind, rng, px_per_mm=rng.uniform(0.6, 1.0), varied_fonts=True,
                         typeface_rng=typeface_rng)
    return weather_plate(plate, rng), text, kind


__all__ = ["GENERATOR_VERSION", "KINDS", "Placed", "background", "camera", "draw_car",
           "draw_distractors", "occlude", "paste_plate", "pick_kind", "random_plate",
           "second_pass", "weather_plate"]
