"""The visible watermark: lab name and creator, drifting slowly across the whole frame.

It is for people. It travels from one side of the frame to the other every few seconds, so no
single crop removes it.
"""

from __future__ import annotations

import cv2
import numpy as np

from sora_lab.core.errors import InputError

LAB_NAME = "Sora Lab"

WATERMARK_SECONDS_PER_CROSSING = 6.0
"""How long the watermark takes to drift from one side of the frame to the other."""


def _text_stamp(lines: list[str], scale: float) -> np.ndarray:
    """Render white text with a dark outline into an alpha mask pair (H, W, 2) float32 in [0, 1].

    Channel 0 is the outline coverage, channel 1 the fill coverage. Drawn once per clip with a
    Hershey font (always available offline) and then pasted per frame, which is cheap.
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(scale * 2))
    outline = thickness + 2
    sizes = [cv2.getTextSize(line, font, scale, outline)[0] for line in lines]
    line_h = max(h for _, h in sizes) + 2 * outline + 2
    width = max(w for w, _ in sizes) + 2 * outline + 2
    height = line_h * len(lines)
    fill = np.zeros((height, width), np.uint8)
    edge = np.zeros((height, width), np.uint8)
    for i, line in enumerate(lines):
        origin = (outline + 1, (i + 1) * line_h - outline - 1)
        cv2.putText(edge, line, origin, font, scale, 255, outline + 2, cv2.LINE_AA)
        cv2.putText(fill, line, origin, font, scale, 255, thickness, cv2.LINE_AA)
    return np.stack([edge, fill], axis=-1).astype(np.float32) / 255.0


def _triangle_wave(phase: np.ndarray) -> np.ndarray:
    """0 → 1 → 0 over one unit of phase: a path that bounces between two edges."""
    frac = np.mod(phase, 1.0)
    return 1.0 - np.abs(2.0 * frac - 1.0)


def watermark_positions(n_frames: int, fps: float, frame_hw: tuple[int, int], stamp_hw: tuple[int, int]) -> np.ndarray:
    """Top-left (y, x) of the watermark per frame, int array (n_frames, 2).

    The path bounces horizontally and vertically at different rates (ratio ~1 : 0.37), so over a
    few seconds it visits every band of the frame — cropping any fixed region cannot remove it.
    """
    height, width = frame_hw
    stamp_h, stamp_w = stamp_hw
    t = np.arange(n_frames) / fps
    phase_x = t / (2 * WATERMARK_SECONDS_PER_CROSSING) + 0.15
    phase_y = t / (2 * WATERMARK_SECONDS_PER_CROSSING / 0.37) + 0.6
    x = _triangle_wave(phase_x) * max(0, width - stamp_w)
    y = _triangle_wave(phase_y) * max(0, height - stamp_h)
    return np.stack([np.round(y), np.round(x)], axis=1).astype(np.int64)


class Watermark:
    """The visible mark for one clip: "Sora Lab" over "@creator", drifting along `watermark_positions`.

    The text is rendered once; `apply` pastes it per frame so frames can stream into the encoder.
    White text on a dark outline at ~85 % opacity stays readable on flat and busy content alike.
    """

    def __init__(self, size_wh: tuple[int, int], fps: float, n_frames: int, creator: str, lab_name: str = LAB_NAME):
        width, height = size_wh
        handle = creator if creator.startswith("@") else f"@{creator}"
        stamp = _text_stamp([lab_name, handle], scale=max(0.35, width / 900))
        self.stamp_h, self.stamp_w = stamp.shape[:2]
        if self.stamp_h > height or self.stamp_w > width:
            raise InputError(
                f"frames: {width}x{height} is too small for the watermark ({self.stamp_w}x{self.stamp_h}); "
                "upscale to the delivery size before watermarking"
            )
        self.edge_alpha = 0.55 * stamp[..., :1]
        self.fill_alpha = 0.85 * stamp[..., 1:]
        self.positions = watermark_positions(n_frames, fps, (height, width), (self.stamp_h, self.stamp_w))

    def apply(self, frame: np.ndarray, index: int) -> np.ndarray:
        """Burn the mark into `frame` (H, W, 3) uint8 in place for output frame `index`; returns it."""
        y, x = self.positions[min(index, len(self.positions) - 1)]
        h, w = self.stamp_h, self.stamp_w
        region = frame[y : y + h, x : x + w].astype(np.float32)
        region = region * (1.0 - self.edge_alpha)  # darken under the outline
        region = region * (1.0 - self.fill_alpha) + 255.0 * self.fill_alpha
        frame[y : y + h, x : x + w] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        return frame


def burn_watermark(frames: np.ndarray, fps: float, creator: str, lab_name: str = LAB_NAME) -> np.ndarray:
    """Return a copy of `frames` (T, H, W, 3) uint8 with "Sora Lab" and "@creator" burned in."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(
            f"frames: expected uint8 array (T, H, W, 3), got {frames.dtype} {frames.shape}; "
            "pass RGB frames from a backend"
        )
    n_frames, height, width, _ = frames.shape
    mark = Watermark((width, height), fps, n_frames, creator, lab_name)
    out = frames.copy()
    for i in range(n_frames):
        mark.apply(out[i], i)
    return out
