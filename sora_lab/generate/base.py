"""The one protocol every generation backend implements.

A backend turns a prompt (and optionally a cameo reference image) into raw RGB
frames. Everything after that — upscaling, sound, watermark, encoding, C2PA —
is shared and lives beside this module, so backends stay small.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sora_lab.core.errors import InputError

Progress = Callable[[int, int], None]
"""progress(done_steps, total_steps) — called by backends during sampling."""


def check_guidance(value, field: str = "guidance") -> float:
    """A CFG scale, for every backend: 0 ignores the prompt, 1 is plain conditioning, more follows the
    prompt harder. A negative one steers away from the prompt, which no caller means, so it is refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise InputError(f"{field} is a CFG scale and must be 0 or more (1 means no guidance); got {value!r}")
    return float(value)


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
