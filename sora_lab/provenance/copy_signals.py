"""What a file that may be a copy of a lab clip shows: one decoding pass over it, feeding the invisible
watermark's average (four frames a second) and the fingerprint's sliding one-second windows.

The lab hashed the mean of each second of its clip (fingerprint.py); a copy's seconds do not start
at the same instants, so the copy is hashed over windows ending at every `HASH_STEP_S`, upright and
mirrored. Only running sums and hashes are kept, so a long or large file does not fill memory;
decoding stops after `MAX_SECONDS`, and frames larger than `MAX_SIDE` are shrunk first (the
watermark reader searches scales anyway).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sora_lab.core.errors import InputError
from sora_lab.provenance import fingerprint, invisible

MAX_SECONDS = 180.0
"""Only the first three minutes of a file are looked at: lab clips are much shorter."""
MAX_SIDE = 1280
MARK_EVERY_S = 0.25
MARK_FRAMES = 64
"""At most this many frames go into the watermark average (spread over the file)."""
HASH_STEP_S = 1 / 12
"""A window ends every other frame of a 24 fps copy: one lands within a frame of each stored second."""
MAX_HASHES = 720
"""Upright windows hashed at most (a minute at the step above; longer files are stepped wider)."""


@dataclass(frozen=True)
class CopySignals:
    """The sampled signals of one file."""

    residual: np.ndarray | None
    """The watermark reader's input (invisible.ResidualAverage of the sampled frames)."""
    hashes: np.ndarray
    """(n, 4) uint64 PDQ hashes of the copy's one-second windows with quality >= fingerprint.MIN_QUALITY."""
    mirrored_hashes: np.ndarray
    seconds: float
    width: int
    height: int


class _Windows:
    """One-second running means of shrunk frames, hashed every `step` seconds (upright and mirrored)."""

    def __init__(self, step: float):
        self.step = step
        self.frames: deque[tuple[float, np.ndarray]] = deque()
        self.total: np.ndarray | None = None
        self.next_end = 0.0
        self.upright: list[np.ndarray] = []
        self.mirrored: list[np.ndarray] = []

    def add(self, t: float, frame: np.ndarray, frame_s: float) -> None:
        image = fingerprint.small(frame)
        self.frames.append((t, image))
        self.total = image.copy() if self.total is None else self.total + image
        while self.frames and self.frames[0][0] <= t - fingerprint.WINDOW_S + frame_s / 2:
            self.total -= self.frames.popleft()[1]
        full = t - self.frames[0][0] >= fingerprint.WINDOW_S - 1.5 * frame_s
        if full and t >= self.next_end:
            mean = self.total / len(self.frames)
            for found, image in ((self.upright, mean), (self.mirrored, mean[:, ::-1])):
                hashed, quality = fingerprint.image_hash(image)
                if quality >= fingerprint.MIN_QUALITY:
                    found.append(hashed)
            self.next_end = t + self.step - frame_s / 2


def read_copy(path: Path) -> CopySignals:
    """Decode `path` once and sample it; InputError when it is not a video PyAV can read."""
    import av  # PyAV (libav): decodes whatever codec the copy was re-encoded with

    residual = invisible.ResidualAverage()
    next_mark = 0.0
    seconds = 0.0
    width = height = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError("video: the file has no video stream; pass an MP4, WebM or MKV clip")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = float(stream.average_rate or stream.guessed_rate or 24)
            frame_s = 1.0 / rate if 1 <= rate <= 240 else 1 / 24
            duration = min(float(container.duration / av.time_base) if container.duration else 0.0, MAX_SECONDS)
            mark_step = max(MARK_EVERY_S, duration / MARK_FRAMES)
            windows = _Windows(max(HASH_STEP_S, duration / MAX_HASHES))
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else seconds + frame_s
                if t > MAX_SECONDS:
                    break
                seconds = t
                rgb = _shrunk(frame.to_ndarray(format="rgb24"))
                height, width = rgb.shape[:2]
                if t >= next_mark:
                    residual.add(rgb)
                    next_mark = t + mark_step - frame_s / 2
                windows.add(t, rgb, frame_s)
    except (av.error.FFmpegError, OSError, ValueError) as error:  # whatever libav says of a broken file
        raise InputError(f"video: not a video file this lab can read ({type(error).__name__})") from None
    if not width:
        raise InputError("video: no frame could be decoded; pass a playable video file")
    return CopySignals(
        residual=residual.value(),
        hashes=np.array(windows.upright, np.uint64).reshape(-1, 4),
        mirrored_hashes=np.array(windows.mirrored, np.uint64).reshape(-1, 4),
        seconds=seconds,
        width=width,
        height=height,
    )


def _shrunk(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max(height, width) <= MAX_SIDE:
        return rgb
    factor = MAX_SIDE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
