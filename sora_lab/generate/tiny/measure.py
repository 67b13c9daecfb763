"""Read a clip's story back from its pixels: background, colour, shape and motion of the object.

The evaluator must not trust the prompt, so everything here looks only at frames:
- background: the median colour of the frame border, snapped to the nearest world background;
- foreground: pixels far (in RGB) from that background; per frame the biggest blob;
- colour: median of the blob's inner pixels (edges are blended with the background),
  snapped to the nearest world colour;
- shape: nearest neighbour against a bank of world renders (all shapes, every rotation and
  size), compared as scale- and position-normalised soft masks — a deterministic template
  method, so no classifier weights to ship;
- motion: from the blob's centroid track, area and frame-to-frame shape change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from sora_lab.generate.tiny.world import BACKGROUNDS, COLORS, SHAPES, ObjectSpec, render_world_clip

FG_THRESHOLD = 60.0  # RGB distance from the background that counts as "object"
CROP = 16  # normalised mask crop side for shape matching
MIN_AREA = 4.0  # pixels; smaller blobs are noise


@dataclass
class Measurement:
    background: str | None
    color: str | None
    shape: str | None
    motion: str | None
    track: list[tuple[int, float, float, float]] = field(default_factory=list)  # (frame, cx, cy, area) where seen
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"background": self.background, "color": self.color, "shape": self.shape, "motion": self.motion,
                **self.details}


def _nearest(rgb: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    names = list(palette)
    dists = [float(np.linalg.norm(rgb - np.array(palette[n], np.float32))) for n in names]
    return names[int(np.argmin(dists))]


def background_color(frames: np.ndarray) -> np.ndarray:
    """Median RGB of the one-pixel border over all frames."""
    f = frames.astype(np.float32)
    border = np.concatenate([f[:, 0].reshape(-1, 3), f[:, -1].reshape(-1, 3), f[:, :, 0].reshape(-1, 3),
                             f[:, :, -1].reshape(-1, 3)])
    return np.median(border, axis=0)


def object_masks(frames: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(soft, hard) masks per frame; hard keeps only the largest connected blob."""
    dist = np.linalg.norm(frames.astype(np.float32) - bg, axis=-1)
    soft = np.clip((dist - FG_THRESHOLD * 0.5) / FG_THRESHOLD, 0, 1)
    hard = np.zeros(dist.shape, bool)
    for i, d in enumerate(dist):
        m = (d > FG_THRESHOLD).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        if n > 1:
            biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            hard[i] = labels == biggest
    soft = soft * cv2.dilate(hard.astype(np.uint8).transpose(1, 2, 0), np.ones((3, 3), np.uint8)).reshape(
        hard.shape[1], hard.shape[2], -1).transpose(2, 0, 1)
    return soft, hard


def normalised_crop(soft: np.ndarray, cx: float, cy: float, area: float) -> np.ndarray:
    """Resample a soft mask around (cx, cy) to CROP x CROP with the object scaled to a fixed size."""
    half = 1.6 * np.sqrt(max(area, 1.0))  # covers a star's points
    scale = CROP / (2 * half)
    m = np.array([[scale, 0, CROP / 2 - scale * cx], [0, scale, CROP / 2 - scale * cy]], np.float32)
    crop = cv2.warpAffine(soft.astype(np.float32), m, (CROP, CROP), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    v = crop.reshape(-1) - crop.mean()
    return v / (np.linalg.norm(v) + 1e-6)


def _frame_stats(soft: np.ndarray, hard: np.ndarray) -> list[tuple[int, float, float, float]]:
    out = []
    for i, (s, h) in enumerate(zip(soft, hard, strict=True)):
        area = float(h.sum())
        if area < MIN_AREA:
            continue
        w = s * h if (s * h).sum() > 0 else h.astype(np.float32)
        ys, xs = np.mgrid[0:h.shape[0], 0:h.shape[1]]
        total = float(w.sum())
        out.append((i, float((xs * w).sum() / total) + 0.5, float((ys * w).sum() / total) + 0.5, area))
    return out


@lru_cache(maxsize=1)
def shape_bank() -> tuple[np.ndarray, np.ndarray]:
    """Normalised crops of world renders of every shape (spinning, growing, at several sizes)."""
    vecs, labels = [], []
    for k, shape in enumerate(SHAPES):
        for seed, motion in enumerate(["spins", "grows", "shrinks", "right", "up"]):
            for n_obj in (1, 2):
                objects = [ObjectSpec("white", shape, motion)] + ([ObjectSpec("white", "circle", "left")] if n_obj == 2
                                                                  else [])
                clip = render_world_clip(objects, "black", seed=seed)
                if n_obj == 2:
                    clip = clip.copy()
                    clip[:, clip.shape[1] // 2:] = BACKGROUNDS["black"]  # keep only the top object
                bg = background_color(clip)
                soft, hard = object_masks(clip, bg)
                for i, cx, cy, area in _frame_stats(soft, hard):
                    vecs.append(normalised_crop(soft[i], cx - 0.5, cy - 0.5, area))
                    labels.append(k)
    return np.stack(vecs), np.array(labels)


def classify_shape(soft: np.ndarray, stats: list[tuple[int, float, float, float]]) -> tuple[str | None, dict]:
    """Vote over frames (weighted by blob area) for the shape whose templates match best."""
    if not stats:
        return None, {}
    bank, labels = shape_bank()
    votes = np.zeros(len(SHAPES))
    for i, cx, cy, area in stats:
        v = normalised_crop(soft[i], cx - 0.5, cy - 0.5, area)
        sims = bank @ v
        best = np.array([sims[labels == k].max() for k in range(len(SHAPES))])
        votes += np.sqrt(area) * np.exp(8 * best) / np.exp(8 * best).sum()
    votes /= votes.sum()
    return SHAPES[int(np.argmax(votes))], {"shape_scores": {s: round(float(p), 3) for s, p in zip(SHAPES, votes,
                                                                                                    strict=True)}}


def classify_motion(soft: np.ndarray, stats: list[tuple[int, float, float, float]]) -> tuple[str | None, dict]:
    """Rules over the centroid track; thresholds in model pixels (frame is 20 x 36)."""
    if len(stats) < 4:
        return None, {}
    idx = np.array([s[0] for s in stats])
    xs = np.array([s[1] for s in stats])
    ys = np.array([s[2] for s in stats])
    areas = np.array([s[3] for s in stats])
    k = max(2, len(stats) // 5)
    dx = xs[-k:].mean() - xs[:k].mean()
    dy = ys[-k:].mean() - ys[:k].mean()
    area_ratio = areas[-k:].mean() / max(areas[:k].mean(), 1.0)
    y_range = ys.max() - ys.min()
    # bounces: the track goes up and comes back down more than once
    steps = np.diff(ys)
    signs = np.sign(steps[np.abs(steps) > 0.8])
    reversals = int((np.diff(signs) != 0).sum()) if len(signs) > 1 else 0
    # spin: the shape (centred, scale-normalised) keeps changing while staying in place
    # (frames two apart: a square turned by ~45 degrees differs most from itself)
    crops = [normalised_crop(soft[i], cx - 0.5, cy - 0.5, a) for i, cx, cy, a in stats]
    change = float(np.mean([1 - float(a @ b) for a, b in zip(crops[:-2], crops[2:], strict=True)]))
    details = {"dx": round(float(dx), 2), "dy": round(float(dy), 2), "area_ratio": round(float(area_ratio), 2),
               "y_range": round(float(y_range), 2), "reversals": reversals, "shape_change": round(change, 3),
               "frames_seen": int(len(idx))}
    travel = max(abs(dx), abs(dy))
    if reversals >= 3 and y_range >= 5 and abs(dy) < 0.6 * y_range:
        motion = "bounces"
    elif travel >= 3.5 and abs(dx) >= abs(dy) * 0.7 and abs(dx) >= 3.5:
        motion = "right" if dx > 0 else "left"
    elif abs(dy) >= 4:
        motion = "down" if dy > 0 else "up"
    elif area_ratio >= 1.8:
        motion = "grows"
    elif area_ratio <= 1 / 1.8:
        motion = "shrinks"
    elif change >= 0.06:
        motion = "spins"
    else:
        motion = "static"
    return motion, details


def measure_clip(frames: np.ndarray) -> Measurement:
    """Measure one clip (T, H, W, 3) uint8 at model resolution; None where nothing could be read."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3); got {frames.shape}")
    bg = background_color(frames)
    soft, hard = object_masks(frames, bg)
    stats = _frame_stats(soft, hard)
    background = _nearest(bg, BACKGROUNDS)
    if not stats:
        return Measurement(background, None, None, None, [], {"object_found": False})
    f = frames.astype(np.float32)
    core = soft >= 0.99
    pixels = f[core & hard] if (core & hard).sum() >= 3 else f[hard]
    rgb = np.median(pixels, axis=0)
    shape, shape_details = classify_shape(soft, stats)
    motion, motion_details = classify_motion(soft, stats)
    details = {"object_found": True, "object_rgb": [round(float(c)) for c in rgb], **shape_details, **motion_details}
    return Measurement(background, _nearest(rgb, COLORS), shape, motion, stats, details)


def reference_error(frames: np.ndarray, reference: np.ndarray, track: list[tuple[int, float, float, float]]) -> float:
    """Mean RGB distance (0-441) between the object and the reference, over frames with an object.

    The object is cropped around its centroid at the size its area implies (a disc), resized to
    8 x 8 and compared with the reference at 8 x 8 inside the inner disc (edges blend with the
    background). At this size a face is its colours: skin, hair, backdrop — which is what
    tells two people apart here. Lower is better; inf when no object was seen.
    """
    if not track:
        return float("inf")
    ref8 = cv2.resize(np.ascontiguousarray(reference[..., :3]), (8, 8), interpolation=cv2.INTER_AREA).astype(np.float32)
    yy, xx = np.mgrid[0:8, 0:8]
    disc = ((xx - 3.5) ** 2 + (yy - 3.5) ** 2) <= 9
    a = ref8[disc]
    scores = []
    for i, cx, cy, area in track:
        radius = np.sqrt(area / np.pi)
        if radius < 2.5:
            continue
        scale = 8 / (2 * radius)
        m = np.array([[scale, 0, 4 - scale * (cx - 0.5)], [0, scale, 4 - scale * (cy - 0.5)]], np.float32)
        crop = cv2.warpAffine(frames[i].astype(np.float32), m, (8, 8), flags=cv2.INTER_LINEAR)
        scores.append(float(np.linalg.norm(crop[disc] - a, axis=-1).mean()))
    return float(np.mean(scores)) if scores else float("inf")
