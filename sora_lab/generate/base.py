"""The one protocol every generation backend implements.

A backend turns a prompt (and optionally a cameo reference image) into raw RGB
frames. Everything after that — upscaling, sound, watermark, encoding, C2PA —
is shared and lives beside this module, so backends stay small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

Progress = Callable[[int, int], None]
"""progress(done_steps, total_steps) — called by backends during sampling."""


@dataclass
class Clip:
    """Frames straight from a model, before post-processing.

    frames: uint8 array (T, H, W, 3), RGB, any resolution (post-processing
            upscales to the delivery size).
    fps:    frames per second of `frames`; T / fps is the clip length in seconds.
    meta:   backend-specific facts worth recording in provenance (steps, guidance, ...).
    """

    frames: np.ndarray
    fps: float
    meta: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.frames.shape[0] / self.fps


class Backend(Protocol):
    name: str  # 'tiny' | 'pretrained'
    model_id: str  # recorded as the generator in provenance

    def render(
        self,
        prompt: str,
        *,
        seconds: float,
        seed: int,
        reference: np.ndarray | None = None,
        progress: Progress | None = None,
    ) -> Clip:
        """Render a clip of about `seconds` seconds. `reference` is an RGB uint8
        image (H, W, 3) of the cameo subject, or None."""
        ...
