"""The perceptual fingerprint of a clip: Meta's PDQ hash (256 bits, the industry's photo and video-frame
matcher) of each second of the clip, averaged.

Why averages: on this world's flat colours a moving object flips 40-70 of PDQ's bits from one frame
to the next, so a copy whose frames do not fall on the same instants (a new frame rate, an excerpt
that starts anywhere) would miss single-frame hashes. The mean of a second's frames changes slowly:
a window one frame later is 8-16 bits away. A copy is hashed the same way over windows ending at
every other frame, so one of them lands within a frame of each stored second. A re-encode, a resize
or a new frame rate then stays within about 20 bits, while other clips are 70 or more bits away
(docs/provenance.md). PDQ does not survive crops or borders; the invisible watermark does.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pdqhash

WINDOW_S = 1.0
"""Each stored hash is of the mean of one second of frames ([k, k+1) s)."""
HASH_INPUT_WH = (128, 128)
"""Frames are shrunk to this before averaging and hashing (PDQ works on 64x64 anyway): cheap, and the
same input whatever size the copy has."""
MIN_QUALITY = 10
"""PDQ's own quality score (0-100) below which a hash is left out: a frame with almost nothing in
it (one flat colour) hashes to noise that any other flat frame may match."""


@dataclass(frozen=True)
class Fingerprint:
    """PDQ hashes of one-second windows: `hashes` (n, 4) uint64 (256 bits each), window starts and qualities."""

    at_ms: np.ndarray
    hashes: np.ndarray
    qualities: np.ndarray

    def __len__(self) -> int:
        return len(self.at_ms)

    def hex(self) -> list[str]:
        """Each hash as 64 hex digits (bit 0 of PDQ's vector is the first bit)."""
        return [h.astype(">u8").tobytes().hex() for h in self.hashes]


def small(frame: np.ndarray) -> np.ndarray:
    """A frame as the float32 (128, 128, 3) image that windows average."""
    return cv2.resize(frame, HASH_INPUT_WH, interpolation=cv2.INTER_AREA).astype(np.float32)


def image_hash(image: np.ndarray) -> tuple[np.ndarray, int]:
    """PDQ of an RGB image (uint8, or a float mean of frames): (4,) uint64 and PDQ's quality."""
    pixels = np.clip(image + 0.5, 0, 255).astype(np.uint8) if image.dtype != np.uint8 else image
    bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    return np.packbits(bits.astype(np.uint8)).view(">u8").astype(np.uint64), int(quality)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit distances between every hash in `a` (n, 4) and every hash in `b` (m, 4): (n, m) ints."""
    return np.bitwise_count(a[:, None, :] ^ b[None, :, :]).sum(axis=-1, dtype=np.int64)


class FingerprintBuilder:
    """Sums each second's frames as they stream past (the pipeline never holds a whole clip)."""

    def __init__(self, n_frames: int, fps: float, window_s: float = WINDOW_S):
        self.per_window = max(1, round(window_s * fps))
        self.n_windows = max(1, n_frames // self.per_window)  # whole windows only (one if the clip is shorter)
        self.window_ms = round(window_s * 1000)
        self._sums: dict[int, np.ndarray] = {}
        self._counts: dict[int, int] = {}

    def add(self, index: int, frame: np.ndarray) -> None:
        window = index // self.per_window
        if window < self.n_windows:
            self._sums[window] = self._sums.get(window, 0.0) + small(frame)
            self._counts[window] = self._counts.get(window, 0) + 1

    def result(self, min_quality: int = MIN_QUALITY) -> Fingerprint:
        rows = []
        for window in sorted(self._sums):
            hashed, quality = image_hash(self._sums[window] / self._counts[window])
            if quality >= min_quality:
                rows.append((window * self.window_ms, hashed, quality))
        return Fingerprint(
            at_ms=np.array([r[0] for r in rows], np.int64),
            hashes=np.array([r[1] for r in rows], np.uint64).reshape(-1, 4),
            qualities=np.array([r[2] for r in rows], np.int64),
        )
