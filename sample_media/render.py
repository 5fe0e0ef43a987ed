"""Draw the sample media's street scenes: a road seen by a pole camera, cars with plates
coming towards it, people with real faces walking on the sidewalk; day, night, rain.

Speed matters more than beauty (all clips must render in a couple of minutes on two
cores): every sprite (car with its plate, person with their face) is drawn once at its
largest size and only resized and pasted per frame; backgrounds, rain and sensor noise
are precomputed and cycled.

Geometry: a vanishing point above the frame; an object at scale p (pixels per metre)
stands on the ground at y = VP_Y + CAMERA_H * p, so cars grow as they approach; their
plates are 80-176 px wide while readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sample_media.scenario import Appearance, Person, Vehicle
from video.plates.render import render_plate

W, H = 1280, 720
VP_X, VP_Y = 640.0, -260.0
CAMERA_H = 2.4
P_FAR, P_NEAR = 150.0, 400.0  # px per metre as a car enters and leaves the view
LANE_X = (-1.05, 0.6)  # lane centres, metres from the view's axis
PLATE_MIN_PX = 80.0
FACES_DIR = Path(__file__).resolve().parent / "faces"


def ground_y(p: float) -> float:
    return VP_Y + CAMERA_H * p


# ---------------------------------------------------------------- background


def _value_noise(h: int, w: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    small = rng.random((max(2, cells * h // w), cells)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def background(rng: np.random.Generator, condition: str) -> np.ndarray:
    """The empty street of one camera (BGR uint8, H x W)."""
    img = np.zeros((H, W, 3), np.float32)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    p = (ys - VP_Y) / CAMERA_H  # px per metre of the ground at each row
    metres = (xs - VP_X) / p  # lateral position on the ground
    asphalt = 85 + 25 * _value_noise(H, W, rng, 60) + 10 * _value_noise(H, W, rng, 240)
    road = (metres > -2.9) & (metres < 2.3)
    kerb_r = (metres >= 2.3) & (metres < 2.5)
    kerb_l = (metres <= -2.9) & (metres > -3.1)
    walk = ~road & ~kerb_r & ~kerb_l
    img[road] = asphalt[road, None] * np.array([1.0, 1.0, 1.02], np.float32)
    tiles = 150 + 30 * _value_noise(H, W, rng, 120)
    grid = ((np.floor(metres * 2) + np.floor(ys / p * 6)) % 2 == 0)
    tone = np.array(rng.choice([[170, 175, 180], [150, 160, 175], [160, 160, 150]]), np.float32) / 170
    img[walk] = (tiles[walk] * (0.93 + 0.07 * grid[walk]))[:, None] * tone
    img[kerb_r | kerb_l] = 200
    # lane markings: a dashed centre line, solid edge lines, a zebra crossing near the camera
    dash = (np.floor((ys / p) * 0.9 + 0.3) % 2 == 0)
    centre = (np.abs(metres + 0.2) < 0.07) & dash
    edges = (np.abs(metres - 2.15) < 0.07) | (np.abs(metres + 2.75) < 0.07)
    zebra = road & (ys > 600) & (ys < 690) & (np.floor(metres * 1.6) % 2 == 0)
    paint = np.array([225, 228, 228], np.float32)
    for mask in (centre, edges, zebra):
        img[mask] = img[mask] * 0.25 + paint * 0.75
    # buildings on both sides, far up the frame
    for side in (-1, 1):
        colour = rng.uniform(90, 200, 3).astype(np.float32)
        x_edge = VP_X + side * 5.2 * p[:, :1]
        facade = ((xs - x_edge) * side > 0) & (ys < 330 + rng.uniform(-40, 40))
        img[facade] = colour * (0.85 + 0.15 * _value_noise(H, W, rng, 30)[facade, None])
        windows = facade & (np.floor(ys / 26) % 2 == 0) & (np.floor(xs / 34) % 3 != 0)
        img[windows] = img[windows] * 0.55 + np.array([120, 90, 60], np.float32) * 0.45
    img = np.clip(img, 0, 255).astype(np.uint8)
    # a shop sign with Chinese text: something that is not a plate
    sign_x = int(rng.uniform(20, 160))
    cv2.rectangle(img, (sign_x, 40), (sign_x + 210, 95), (30, 30, 160), -1)
    _text(img, str(rng.choice(["24H SHOP", "HOTEL", "BANK", "PHARMACY"])), (sign_x + 12, 47), 34,
          (240, 240, 240))
    # a pole
    pole_x = int(rng.uniform(330, 420))
    cv2.rectangle(img, (pole_x, 0), (pole_x + 14, 300), (90, 95, 100), -1)
    if condition == "night":
        img = _night(img, rng)
    elif condition == "rain":
        img = _rain_tone(img)
    return img


def _text(img: np.ndarray, text: str, at: tuple[int, int], size: int, colour: tuple[int, int, int]) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path(__file__).resolve().parent.parent / "video" / "plates" / "fonts" / "NotoSansSC-Bold-plates.otf"
    try:
        font = ImageFont.truetype(str(font_path), size)
    except OSError:
        return
    pil = Image.fromarray(img[..., ::-1])
    ImageDraw.Draw(pil).text(at, text, font=font, fill=colour[::-1])
    img[:] = np.asarray(pil)[..., ::-1]


def _night(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dark = img.astype(np.float32) * np.array([0.30, 0.24, 0.22], np.float32)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    for lx, ly in ((rng.uniform(250, 450), 80.0), (rng.uniform(850, 1050), 60.0)):
        glow = np.exp(-(((xs - lx) / 260) ** 2 + ((ys - ly - 300) / 320) ** 2))
        dark += glow[..., None] * np.array([40, 75, 110], np.float32)  # sodium lamps
    return np.clip(dark, 0, 255).astype(np.uint8)


def _rain_tone(img: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None].astype(np.float32)
    wet = img.astype(np.float32) * 0.55 + grey * 0.25 + np.array([18, 14, 10], np.float32)
    return np.clip(wet * 0.8, 0, 255).astype(np.uint8)


RAIN_SPAN = 960
"""Rows of rain texture the frames scroll through: falling rain that an encoder can follow."""


def rain_texture(rng: np.random.Generator) -> np.ndarray:
    """Streaks on a tall strip; frame n shows rows n*FALL.. (mod RAIN_SPAN): rain falls, and
    since it moves as one sheet the encoder predicts it instead of coding noise."""
    height = H + RAIN_SPAN
    layer = np.zeros((height, W), np.uint8)
    n = int(260 * height / H)  # sparse: every streak costs the encoder bits in every frame
    x0 = rng.uniform(0, W, n)
    y0 = rng.uniform(-40, height, n)
    length = rng.uniform(14, 36, n)
    for x, y, ln in zip(x0, y0, length, strict=True):
        cv2.line(layer, (int(x), int(y)), (int(x - ln * 0.25), int(y + ln)), int(rng.uniform(30, 70)), 1)
    layer[:H] = layer[RAIN_SPAN:RAIN_SPAN + H]  # the top repeats the bottom: a seamless loop
    return cv2.cvtColor(cv2.GaussianBlur(layer, (3, 3), 0), cv2.COLOR_GRAY2BGR)


def rain_at(texture: np.ndarray, n: int, fall_px: int = 12) -> np.ndarray:
    offset = RAIN_SPAN - (n * fall_px) % RAIN_SPAN
    return texture[offset:offset + H]


def add_grain(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    grain = rng.normal(0, sigma, (H, W, 1)).astype(np.float32)
    return np.clip(img.astype(np.float32) + grain, 0, 255).astype(np.uint8)


def noise_layers(rng: np.random.Generator, sigma: float, count: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sensor noise as (add, subtract) uint8 pairs, so applying it stays in uint8."""
    out = []
    for _ in range(count):
        noise = rng.normal(0, sigma, (H, W, 1)).astype(np.float32)
        noise = np.repeat(noise, 3, axis=2)
        out.append((np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8)))
    return out


# ---------------------------------------------------------------- sprites


@dataclass(slots=True)
class Sprite:
    """An object drawn once at its largest size: pixels, a mask, and where its anchor is."""

    image: np.ndarray
    mask: np.ndarray  # uint8 0/255
    scale: float  # px per metre it was drawn at
    anchor: tuple[float, float]  # (x, y) in sprite pixels that sits on the ground point
    plate_box: tuple[int, int, int, int] | None = None  # in sprite pixels
    face_box: tuple[int, int, int, int] | None = None


def car_sprite(vehicle: Vehicle, condition: str, rng: np.random.Generator) -> Sprite:
    """The front of a car with its plate, at P_NEAR px per metre."""
    s = P_NEAR
    width_m = {"sedan": 1.8, "suv": 1.9, "hatch": 1.7, "van": 1.95}[vehicle.style]
    height_m = {"sedan": 1.45, "suv": 1.75, "hatch": 1.5, "van": 2.0}[vehicle.style]
    w, h = int(width_m * s), int(height_m * s)
    img = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    body = tuple(int(c) for c in vehicle.color)
    shade = tuple(int(c * 0.7) for c in vehicle.color)
    # wheels and lower body
    wheel_h = int(0.35 * s)
    for wx in (int(0.05 * w), int(0.83 * w)):
        cv2.rectangle(img, (wx, h - wheel_h), (wx + int(0.12 * w), h - 1), (20, 20, 20), -1)
        cv2.rectangle(mask, (wx, h - wheel_h), (wx + int(0.12 * w), h - 1), 255, -1)
    lower_top = int(h - 0.95 * s)
    cv2.rectangle(img, (0, lower_top), (w - 1, h - int(0.18 * s)), body, -1)
    cv2.rectangle(mask, (0, lower_top), (w - 1, h - int(0.18 * s)), 255, -1)
    # cabin: a trapezoid with the windscreen
    inset = int(0.14 * w)
    cabin = np.array([[inset, 0], [w - inset, 0], [w - int(0.04 * w), lower_top], [int(0.04 * w), lower_top]], np.int32)
    cv2.fillPoly(img, [cabin], shade)
    cv2.fillPoly(mask, [cabin], 255)
    glass = np.array([[inset + 14, 12], [w - inset - 14, 12], [w - int(0.08 * w), lower_top - 10],
                      [int(0.08 * w), lower_top - 10]], np.int32)
    cv2.fillPoly(img, [glass], (70, 60, 50))
    ys = np.arange(h)[:, None]
    reflection = ((ys > 12) & (ys < lower_top - 10)).astype(np.float32) * np.linspace(40, 0, w)[None, :]
    img = np.clip(img.astype(np.float32) + reflection[..., None] * (img.sum(2, keepdims=True) < 200), 0, 255).astype(np.uint8)
    # grille, lights, bumper
    grille_y = lower_top + int(0.12 * s)
    cv2.rectangle(img, (int(0.3 * w), grille_y), (int(0.7 * w), grille_y + int(0.16 * s)), (35, 35, 35), -1)
    light_y = lower_top + int(0.08 * s)
    lamp = (230, 240, 245) if condition != "night" else (255, 255, 255)
    for lx in (int(0.06 * w), int(0.76 * w)):
        cv2.rectangle(img, (lx, light_y), (lx + int(0.18 * w), light_y + int(0.12 * s)), lamp, -1)
    bumper_y = h - int(0.3 * s)
    cv2.rectangle(img, (0, bumper_y), (w - 1, bumper_y + int(0.1 * s)), shade, -1)
    # the plate, centred, its bottom ~0.3 m above the ground
    plate_img = render_plate(vehicle.plate, vehicle.plate_kind, rng, px_per_mm=s / 1000.0)
    ph, pw = plate_img.shape[:2]
    px1 = (w - pw) // 2
    py2 = h - int(0.28 * s)
    py1 = py2 - ph
    img[py1:py2, px1:px1 + pw] = plate_img
    if condition == "night":
        img = (img.astype(np.float32) * 0.45).astype(np.uint8)
        img[py1:py2, px1:px1 + pw] = (plate_img.astype(np.float32) * 0.8).astype(np.uint8)
        for lx in (int(0.06 * w), int(0.76 * w)):
            cv2.rectangle(img, (lx, light_y), (lx + int(0.18 * w), light_y + int(0.12 * s)), (255, 255, 255), -1)
    elif condition == "rain":  # wet and dull, the plate a little soft
        img = cv2.GaussianBlur((img.astype(np.float32) * 0.8).astype(np.uint8), (3, 3), 0)
    img[mask == 0] = 0
    return Sprite(img, mask, s, (w / 2, float(h)), plate_box=(px1, py1, px1 + pw, py2))


def person_sprite(person: Person, rng: np.random.Generator, condition: str) -> Sprite:
    """Head (the real face) and shoulders, the face about 170 px wide at full size."""
    photo = cv2.imread(str(FACES_DIR / person.image), cv2.IMREAD_COLOR)
    if photo is None:
        raise FileNotFoundError(f"face image missing: {FACES_DIR / person.image}")
    left, top, right, bottom = person.face
    fw = right - left
    x1, x2 = max(0, int(left - 0.32 * fw)), min(photo.shape[1], int(right + 0.32 * fw))
    y1, y2 = max(0, int(top - 0.55 * fw)), min(photo.shape[0], int(bottom + 0.22 * fw))
    head = photo[y1:y2, x1:x2]
    target_face = 170.0
    k = target_face / fw
    head = cv2.resize(head, (int(head.shape[1] * k), int(head.shape[0] * k)), interpolation=cv2.INTER_CUBIC)
    hh, hw = head.shape[:2]
    face_box = (int((left - x1) * k), int((top - y1) * k), int((right - x1) * k), int((bottom - y1) * k))
    body_w = int(hw * 1.9)
    body_h = int(hh * 1.4)
    w = body_w
    h = hh + body_h
    img = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    ox = (w - hw) // 2
    head_mask = np.zeros((hh, hw), np.uint8)
    cv2.ellipse(head_mask, (hw // 2, hh // 2), (hw // 2 - 2, hh // 2 - 2), 0, 0, 360, 255, -1)
    shirt = tuple(int(c) for c in rng.uniform(30, 220, 3))
    neck_w = hw // 3
    cv2.rectangle(img, (w // 2 - neck_w // 2, hh - 20), (w // 2 + neck_w // 2, hh + 30), (120, 150, 190), -1)
    cv2.rectangle(mask, (w // 2 - neck_w // 2, hh - 20), (w // 2 + neck_w // 2, hh + 30), 255, -1)
    torso = np.array([[int(0.08 * w), h], [int(0.14 * w), hh + 40], [w // 2, hh + 15],
                      [int(0.86 * w), hh + 40], [int(0.92 * w), h]], np.int32)
    cv2.fillPoly(img, [torso], shirt)
    cv2.fillPoly(mask, [torso], 255)
    roi = img[:hh, ox:ox + hw]
    roi[head_mask > 0] = head[head_mask > 0]
    mask[:hh, ox:ox + hw] = np.maximum(mask[:hh, ox:ox + hw], head_mask)
    if condition == "night":
        img = (img.astype(np.float32) * 0.6).astype(np.uint8)
    fb = (face_box[0] + ox, face_box[1], face_box[2] + ox, face_box[3])
    return Sprite(img, mask, target_face, (w / 2, 0.0), face_box=fb)


# ---------------------------------------------------------------- placement


@dataclass(slots=True)
class Placed:
    """Where an appearance is in one frame: its sprite's scale factor and top-left."""

    appearance: Appearance
    factor: float
    x: int
    y: int
    depth: float  # larger is nearer (drawn later)


def car_at(appearance: Appearance, sprite: Sprite, t: float) -> Placed | None:
    """Cars approach at constant speed, so their scale grows like 1/distance."""
    u = (t - appearance.start) / appearance.duration
    if not 0.0 <= u <= 1.0:
        return None
    inv = (1 - u) / P_FAR + u / P_NEAR
    p = 1.0 / inv
    factor = p / sprite.scale
    gx = VP_X + LANE_X[appearance.lane] * p
    gy = ground_y(p)
    ax, ay = sprite.anchor
    return Placed(appearance, factor, int(round(gx - ax * factor)), int(round(gy - ay * factor)), p)


def person_at(appearance: Appearance, sprite: Sprite, t: float) -> Placed | None:
    """People walk towards the camera on the right-hand sidewalk; the face grows 60->150 px."""
    u = (t - appearance.start) / appearance.duration
    if not 0.0 <= u <= 1.0:
        return None
    face_px = 1.0 / ((1 - u) / 60.0 + u / 150.0)
    factor = face_px / sprite.scale
    head_x = 1085 + 70 * u
    head_y = 120 + 90 * u + 4 * np.sin(u * 40)
    ax, _ = sprite.anchor
    return Placed(appearance, factor, int(round(head_x - ax * factor)), int(round(head_y)), 1e6 + face_px)


def paste(frame: np.ndarray, sprite: Sprite, placed: Placed) -> tuple[np.ndarray, int, int] | None:
    """Resize and paste a sprite; returns the mask it covered and its top-left in the frame."""
    f = placed.factor
    sw, sh = max(1, int(sprite.image.shape[1] * f)), max(1, int(sprite.image.shape[0] * f))
    x1, y1 = placed.x, placed.y
    fx1, fy1 = max(0, x1), max(0, y1)
    fx2, fy2 = min(W, x1 + sw), min(H, y1 + sh)
    if fx2 <= fx1 or fy2 <= fy1:
        return None
    # resize only the part that is in the frame (a big car leaving at the bottom costs less)
    src_x1, src_y1 = int((fx1 - x1) / f), int((fy1 - y1) / f)
    src_x2 = min(sprite.image.shape[1], int(np.ceil((fx2 - x1) / f)) + 1)
    src_y2 = min(sprite.image.shape[0], int(np.ceil((fy2 - y1) / f)) + 1)
    part = sprite.image[src_y1:src_y2, src_x1:src_x2]
    part_mask = sprite.mask[src_y1:src_y2, src_x1:src_x2]
    pw, ph = max(1, int(round(part.shape[1] * f))), max(1, int(round(part.shape[0] * f)))
    # INTER_AREA (like a lens) where it matters for legibility; linear is 8x faster above 0.6
    interp = cv2.INTER_AREA if f < 0.6 else cv2.INTER_LINEAR
    img = cv2.resize(part, (pw, ph), interpolation=interp)
    mask = cv2.resize(part_mask, (pw, ph), interpolation=cv2.INTER_NEAREST)
    ox, oy = fx1 - (x1 + int(round(src_x1 * f))), fy1 - (y1 + int(round(src_y1 * f)))
    ox, oy = max(0, ox), max(0, oy)
    tw, th = min(fx2 - fx1, pw - ox), min(fy2 - fy1, ph - oy)
    if tw <= 0 or th <= 0:
        return None
    sub_img = img[oy:oy + th, ox:ox + tw]
    sub_mask = mask[oy:oy + th, ox:ox + tw]
    cv2.copyTo(sub_img, sub_mask, frame[fy1:fy1 + th, fx1:fx1 + tw])  # in place, 50x np.copyto
    return sub_mask, fx1, fy1


def box_in_frame(sprite_box: tuple[int, int, int, int], placed: Placed) -> tuple[int, int, int, int]:
    f = placed.factor
    return (int(placed.x + sprite_box[0] * f), int(placed.y + sprite_box[1] * f),
            int(placed.x + sprite_box[2] * f), int(placed.y + sprite_box[3] * f))
