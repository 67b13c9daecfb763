"""The procedural world the tiny model learns from: coloured shapes moving on a plain background.

Everything is drawn with OpenCV at 4x the model resolution and then area-averaged down,
so edges are anti-aliased the way a camera would blur them. A clip is 16 frames of
20x36 pixels (W x H, 9:16 vertical) that span the whole clip: an object that "moves
right" crosses the frame between the first and the last frame. The generation pipeline
interpolates these frames to 24 fps and upscales them; the model only has to get the
story right, not the detail.

A scene is described by `ObjectSpec`s (colour, shape, motion) or by a reference sprite
(a cameo face) instead of colour and shape; the sprite moves, grows and turns like a shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

WIDTH, HEIGHT, FRAMES = 20, 36, 16
SUPERSAMPLE = 4

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (228, 36, 36),
    "green": (40, 200, 60),
    "blue": (40, 100, 245),
    "yellow": (246, 226, 40),
    "purple": (150, 55, 205),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
    "pink": (250, 130, 195),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (14, 14, 14),
    "gray": (105, 105, 105),
    "navy": (18, 28, 92),
    "dark green": (18, 68, 34),
    "brown": (92, 56, 28),
}
SHAPES = ("circle", "square", "triangle", "star")
MOTIONS = ("right", "left", "up", "down", "grows", "shrinks", "spins", "bounces")


@dataclass(frozen=True)
class ObjectSpec:
    """One moving thing. `color`/`shape` are ignored when the clip has a reference sprite."""

    color: str
    shape: str
    motion: str


def _check(spec: ObjectSpec) -> None:
    if spec.color not in COLORS:
        raise ValueError(f"color {spec.color!r} is not one of {sorted(COLORS)}")
    if spec.shape not in SHAPES:
        raise ValueError(f"shape {spec.shape!r} is not one of {SHAPES}")
    if spec.motion not in MOTIONS:
        raise ValueError(f"motion {spec.motion!r} is not one of {MOTIONS}")


def _shape_polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Vertices (N,2) of a shape of 'radius' r, rotated by `angle` radians; sizes are chosen
    so all shapes carry a similar amount of colour."""
    if shape == "square":
        radius, n, start = r * 1.2, 4, math.pi / 4
        angles = [start + k * math.pi / 2 for k in range(n)]
        pts = [(radius * math.cos(a), radius * math.sin(a)) for a in angles]
    elif shape == "triangle":
        radius = r * 1.3
        angles = [-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
        pts = [(radius * math.cos(a), radius * math.sin(a)) for a in angles]
    elif shape == "star":
        pts = []
        for k in range(10):
            radius = r * 1.35 if k % 2 == 0 else r * 0.55
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((radius * math.cos(a), radius * math.sin(a)))
    else:
        raise ValueError(f"no polygon for shape {shape!r}")
    c, s = math.cos(angle), math.sin(angle)
    return np.array([(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts], np.float64)


def motion_track(motion: str, box: tuple[float, float, float, float], r: float, anchor: tuple[float, float],
                 frames: int = FRAMES) -> list[tuple[float, float, float, float]]:
    """(cx, cy, scale, angle) per frame for a motion inside a lane box (x0, y0, x1, y1), model pixels.

    Travel spans the whole lane so motion is obvious even after the pipeline interpolates to 24 fps.
    """
    x0, y0, x1, y1 = box
    ax, ay = anchor
    r = r * 1.3  # stars and squares reach past r: keep them inside the frame at the ends of a move
    out = []
    for i in range(frames):
        t = i / (frames - 1)
        cx, cy, scale, angle = ax, ay, 1.0, 0.0
        if motion == "right":
            cx = x0 + r + t * (x1 - x0 - 2 * r)
        elif motion == "left":
            cx = x1 - r - t * (x1 - x0 - 2 * r)
        elif motion == "down":
            cy = y0 + r + t * (y1 - y0 - 2 * r)
        elif motion == "up":
            cy = y1 - r - t * (y1 - y0 - 2 * r)
        elif motion == "grows":
            scale = 0.5 + 0.9 * t
        elif motion == "shrinks":
            scale = 1.4 - 0.9 * t
        elif motion == "spins":
            angle = 2 * math.pi * t * 0.94  # just under a full turn, so the last frame differs from the first
        elif motion == "bounces":
            floor = y1 - r
            height = min(0.6 * (y1 - y0), y1 - y0 - 2 * r)
            cy = floor - height * abs(math.sin(math.pi * 3 * t))  # three hops, landing on the floor at the end
        out.append((cx, cy, scale, angle))
    return out


def make_face_sprite(seed: int, size: int = 32) -> np.ndarray:
    """A procedurally drawn face (RGB uint8, size x size): the stand-in for a person's cameo.

    Skin tone, hair colour and style, eye colour and backdrop vary with the seed, so each
    seed is a different "person" — enough for the tiny model to learn to copy a reference.
    """
    rng = np.random.default_rng(seed)
    s = size * SUPERSAMPLE
    skins = [(255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 58, 30)]
    hairs = [(20, 20, 20), (90, 50, 20), (200, 160, 60), (170, 40, 20), (200, 200, 200), (40, 60, 160)]
    backdrops = [(120, 200, 230), (250, 240, 120), (170, 230, 160), (230, 160, 200), (250, 180, 120), (190, 170, 240)]
    img = np.zeros((s, s, 3), np.uint8)
    img[:] = backdrops[rng.integers(len(backdrops))]
    skin = skins[rng.integers(len(skins))]
    hair = hairs[rng.integers(len(hairs))]
    c = s // 2
    # hair behind the head, then the face oval
    hair_len = int(s * rng.uniform(0.36, 0.5))
    cv2.ellipse(img, (c, int(c * 0.95)), (int(s * 0.36), hair_len), 0, 0, 360, hair, -1, cv2.LINE_AA)
    cv2.ellipse(img, (c, int(c * 1.08)), (int(s * 0.28), int(s * 0.34)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    # fringe
    cv2.ellipse(img, (c, int(c * 0.78)), (int(s * 0.29), int(s * 0.16)), 0, 180, 360, hair, -1, cv2.LINE_AA)
    eye = [(40, 40, 40), (40, 90, 170), (60, 130, 60)][rng.integers(3)]
    ey, ex = int(c * 1.02), int(s * 0.11)
    for sx in (-1, 1):
        cv2.circle(img, (c + sx * ex, ey), max(2, int(s * 0.045)), (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(img, (c + sx * ex, ey), max(1, int(s * 0.028)), eye, -1, cv2.LINE_AA)
    mouth = (200, 60, 70) if rng.random() < 0.7 else (120, 30, 40)
    cv2.ellipse(img, (c, int(c * 1.38)), (int(s * 0.1), int(s * 0.05)), 0, 0, 180, mouth, max(2, s // 40), cv2.LINE_AA)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def _lanes(n: int) -> list[tuple[float, float, float, float]]:
    if n == 1:
        return [(0.0, 0.0, float(WIDTH), float(HEIGHT))]
    return [(0.0, 0.0, float(WIDTH), HEIGHT / 2), (0.0, HEIGHT / 2, float(WIDTH), float(HEIGHT))]


def render_world_clip(objects: list[ObjectSpec], background: str, *, reference: np.ndarray | None = None,
                      seed: int = 0, frames: int = FRAMES) -> np.ndarray:
    """Render a clip (frames, HEIGHT, WIDTH, 3) uint8 RGB.

    One object fills the frame's single lane; two objects get the top and bottom halves
    (the first object on top). With `reference`, the first object is the sprite in a round
    frame instead of a coloured shape. `seed` jitters positions and sizes.
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background {background!r} is not one of {sorted(BACKGROUNDS)}")
    if not 1 <= len(objects) <= 2:
        raise ValueError("a clip has one or two objects")
    for spec in objects:
        _check(spec)
    rng = np.random.default_rng(seed)
    lanes = _lanes(len(objects))
    base_r = 4.6 if len(objects) == 1 else 3.6
    tracks = []
    for spec, box in zip(objects, lanes, strict=True):
        r = base_r * rng.uniform(0.9, 1.1)
        x0, y0, x1, y1 = box
        margin = r * 1.45  # room for the biggest scale (grows/shrinks reach 1.4x)
        ax = rng.uniform(x0 + margin, x1 - margin) if x1 - x0 > 2 * margin else (x0 + x1) / 2
        ay = rng.uniform(y0 + margin, y1 - margin) if y1 - y0 > 2 * margin else (y0 + y1) / 2
        if spec.motion in ("grows", "shrinks", "spins"):
            ax = (x0 + x1) / 2 + rng.uniform(-1.0, 1.0)
        tracks.append((spec, r, motion_track(spec.motion, box, r, (ax, ay), frames)))

    ss = SUPERSAMPLE
    sprite = None
    if reference is not None:
        sprite = np.ascontiguousarray(reference[..., :3]).astype(np.uint8)
    clip = np.empty((frames, HEIGHT, WIDTH, 3), np.uint8)
    for i in range(frames):
        canvas = np.empty((HEIGHT * ss, WIDTH * ss, 3), np.uint8)
        canvas[:] = BACKGROUNDS[background]
        for k, (spec, r, track) in enumerate(tracks):
            cx, cy, scale, angle = track[i]
            if k == 0 and sprite is not None:
                _paste_sprite(canvas, sprite, cx * ss, cy * ss, r * scale * 1.15 * ss, angle)
            elif spec.shape == "circle":
                centre = (int(round(cx * ss * 16)), int(round(cy * ss * 16)))  # 4 fractional bits (shift=4)
                radius = int(round(r * scale * ss * 16))
                cv2.circle(canvas, centre, radius, COLORS[spec.color], -1, cv2.LINE_AA, shift=4)
            else:
                poly = _shape_polygon(spec.shape, cx * ss, cy * ss, r * scale * ss, angle)
                cv2.fillPoly(canvas, [np.round(poly * 16).astype(np.int32)], COLORS[spec.color], cv2.LINE_AA, shift=4)
        clip[i] = cv2.resize(canvas, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    return clip


def _paste_sprite(canvas: np.ndarray, sprite: np.ndarray, cx: float, cy: float, radius: float,
                  angle: float = 0.0) -> None:
    """Paste the sprite, scaled to a disc of `radius` and turned by `angle` radians (as shapes turn),
    centred at (cx, cy) (canvas pixels). Turning happens inside the disc, so a spinning face keeps its outline
    and only what is inside it turns."""
    d = max(2, int(round(2 * radius)))
    face = cv2.resize(sprite, (d, d), interpolation=cv2.INTER_AREA if d < sprite.shape[0] else cv2.INTER_LINEAR)
    if angle:
        turn = cv2.getRotationMatrix2D(((d - 1) / 2, (d - 1) / 2), -math.degrees(angle), 1.0)
        face = cv2.warpAffine(face, turn, (d, d), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros((d, d), np.uint8)
    cv2.circle(mask, (d // 2, d // 2), d // 2, 255, -1, cv2.LINE_AA)
    x0, y0 = int(round(cx - d / 2)), int(round(cy - d / 2))
    h, w = canvas.shape[:2]
    sx0, sy0 = max(0, -x0), max(0, -y0)
    sx1, sy1 = min(d, w - x0), min(d, h - y0)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    region = canvas[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1].astype(np.float32)
    alpha = mask[sy0:sy1, sx0:sx1, None].astype(np.float32) / 255.0
    blended = region * (1 - alpha) + face[sy0:sy1, sx0:sx1].astype(np.float32) * alpha
    canvas[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1] = np.round(blended).astype(np.uint8)
