"""Frames drawn with numpy/OpenCV for pipeline tests: a disc bouncing in a box.

Ground truth (where the disc is, when it bounces) is known exactly, so tests can check that
interpolation moves it smoothly and that sound hits land on the bounce frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sora_lab.generate.base import Clip


@dataclass
class Bounce:
    frames: np.ndarray
    centres: np.ndarray
    """(T, 2) disc centre in pixels (x, y)."""
    bounce_frames: list[int]
    """Frames at which the disc is at a wall (its velocity reverses right after)."""


def bouncing_disc(
    n: int,
    *,
    width: int = 144,
    height: int = 256,
    speed=(0.9, 0.55),
    radius: int = 10,
    fps: float = 24.0,
    start=(0.3, 0.2),
) -> Bounce:
    """A yellow disc on navy bouncing off the walls; speed in frame-sizes per second."""
    frames = np.empty((n, height, width, 3), np.uint8)
    frames[:] = (30, 40, 60)
    x, y = start
    dx, dy = speed[0] / fps, speed[1] / fps
    lo_x, hi_x, lo_y, hi_y = radius / width, 1 - radius / width, radius / height, 1 - radius / height
    centres, bounces = [], set()
    for t in range(n):
        cx, cy = x * width, y * height
        cv2.circle(frames[t], (round(cx * 16), round(cy * 16)), radius * 16, (240, 200, 40), -1, cv2.LINE_AA, shift=4)
        centres.append((cx, cy))
        if not lo_x <= x + dx <= hi_x:
            dx, _ = -dx, bounces.add(t)
        if not lo_y <= y + dy <= hi_y:
            dy, _ = -dy, bounces.add(t)
        x, y = x + dx, y + dy
    return Bounce(frames, np.array(centres), sorted(bounces))


class DiscBackend:
    """Test-only stand-in with the Backend protocol: few small keyframes like the tiny model's.

    16 frames at 20x36 over the clip, disc speed and start chosen from the seed.
    """

    name = "tiny"
    model_id = "test-disc-world"

    def __init__(self, n_keyframes: int = 16, fail_at: str | None = None):
        self.n_keyframes = n_keyframes
        self.fail_at = fail_at
        self.calls = 0
        self.last_reference = None

    def render(self, prompt, *, seconds, seed, reference=None, progress=None) -> Clip:
        self.calls += 1
        self.last_reference = reference
        if self.fail_at == "model":
            raise RuntimeError("simulated model crash")
        rng = np.random.default_rng(seed)
        speed = (rng.uniform(0.2, 0.35), rng.uniform(0.15, 0.3))
        fps = self.n_keyframes / seconds
        world = bouncing_disc(
            self.n_keyframes, width=20, height=36, speed=speed, radius=3, fps=fps, start=tuple(rng.uniform(0.3, 0.7, 2))
        )
        if progress:
            for step in range(4):
                progress(step + 1, 4)
        return Clip(world.frames, fps, {"prompt_words": len(prompt.split())})
