"""Reading a finished clip back, to check what the pipeline wrote: audio samples, stream summary, sound onsets."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sora_lab.generate import encode, postprocess
from sora_lab.generate.audio import SAMPLE_RATE


def onset_times(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, hop_s: float = 0.004, min_rise: float = 0.02
) -> np.ndarray:
    """Seconds where loudness jumps (spectral-flux-like on a high-passed mono mix): hits, not hums.

    Sound hits should land on motion events; this finds them in the samples.
    """
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    high = np.diff(mono, prepend=mono[:1])  # first difference: emphasises clicks over low tones
    hop = max(1, round(hop_s * sample_rate))
    n = len(high) // hop
    energy = np.sqrt((high[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    rise = np.diff(energy, prepend=energy[:1])
    # relative to the loudest jump, but never below a floor that steady ambience cannot reach
    threshold = max(4 * np.median(np.abs(rise)), 0.25 * rise.max(), min_rise)
    peaks = [i for i in range(1, n - 1) if rise[i] > threshold and rise[i] >= rise[i - 1] and rise[i] >= rise[i + 1]]
    merged: list[int] = []
    for i in peaks:  # one onset per hit: ignore peaks within 30 ms of the previous one
        if not merged or (i - merged[-1]) * hop_s > 0.03:
            merged.append(i)
    return np.array(merged) * hop / sample_rate


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """The audio track as float32 (N, channels) and its sample rate (for sync checks)."""
    import av

    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in container.decode(audio=0):
            data = frame.to_ndarray()
            if frame.format.is_planar:
                data = data.T
            else:
                data = data.reshape(-1, frame.layout.nb_channels if hasattr(frame.layout, "nb_channels") else 2)
            chunks.append(data.astype(np.float32))
    return np.concatenate(chunks), rate


def run_ffprobe_like(path: Path) -> str:
    """ffmpeg's own reading of the file (stream summary), for humans in reports."""
    result = subprocess.run([encode.ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return "\n".join(line for line in result.stderr.splitlines() if "Stream" in line or "Duration" in line)


def upscale_stream(
    frames: np.ndarray, size_wh: tuple[int, int] = postprocess.DELIVERY_SIZE, source_height: int | None = None
) -> Iterator[np.ndarray]:
    """Yield delivery-size frames one by one (keeps memory flat while ffmpeg encodes)."""
    for frame in frames:
        yield postprocess.upscale_frame(frame, size_wh, source_height)
