"""Sound design derived from the frames on screen, so what you hear is what moves.

Analysis finds *tracks* (things that move) in the final 24 fps frames:
  - `tracks_from_objects`: segment foreground blobs against the clip's median background and
    follow them frame to frame — the tiny model's world of objects on a backdrop;
  - `tracks_from_flow`: dense optical flow; the magnitude-weighted centroid of motion is one
    track — works for any footage (pretrained backends).
`motion_events` marks frames where a track bounces or turns (velocity direction changes).

Synthesis (`render_sound`) turns that into stereo audio at 48 kHz:
  - each track hums a soft tone: pitch rises with height on screen, loudness with speed,
    pan follows x (equal-power);
  - each event is a percussive hit (pitched pluck + noise burst) starting on that frame's
    exact sample, panned where it happened;
  - a background ambience of filtered noise follows the picture's brightness.
Random choices (scale root, noise) come from the seed, so a seed always sounds the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from sora_lab.core.arrays import median

SAMPLE_RATE = 48_000
PENTATONIC = np.array([0, 2, 4, 7, 9])
"""Scale degrees (semitones) for track base notes: any mix of them sounds consonant."""
ANALYSIS_HEIGHT = 96
"""Frames are analysed at this height: enough for centroids, cheap for 240 frames."""


@dataclass
class Track:
    """One moving thing over the clip. x, y in [0, 1] (fraction of width/height), NaN when absent."""

    x: np.ndarray
    y: np.ndarray
    size: np.ndarray
    """Fraction of the frame area covered (objects) or relative motion energy (flow)."""


@dataclass
class MotionEvent:
    frame: int
    track: int
    kind: str
    """'bounce' (a velocity component reverses) or 'turn' (direction changes by > 60 degrees)."""
    strength: float
    """How abrupt, 0..1: the size of the velocity change relative to the speed."""
    x: float
    y: float


@dataclass
class Soundtrack:
    samples: np.ndarray
    """(N, 2) float32 stereo in [-1, 1]; N = seconds * sample_rate exactly."""
    sample_rate: int
    events: list[MotionEvent] = field(default_factory=list)
    n_tracks: int = 0

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate


# --------------------------------------------------------------------------- analysis


def _small(frames: np.ndarray) -> np.ndarray:
    _, height, width, _ = frames.shape
    if height <= ANALYSIS_HEIGHT:
        return frames
    size = (max(2, round(width * ANALYSIS_HEIGHT / height)), ANALYSIS_HEIGHT)
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def tracks_from_objects(
    frames: np.ndarray, max_tracks: int = 6, min_area: float = 0.006, min_frames: int = 12
) -> list[Track]:
    """Foreground blobs (difference from the per-pixel median frame), linked by nearest centroid.

    Blobs under `min_area` of the frame and tracks seen in fewer than `min_frames` frames (half a
    second at 24 fps) are dropped: flickering specks of a noisy sample should stay silent.
    """
    small = _small(frames)
    n, height, width, _ = small.shape
    background = median(small, axis=0).astype(np.int16)
    kernel = np.ones((3, 3), np.uint8)
    diag = float(np.hypot(width, height))
    xs = np.full((max_tracks, n), np.nan)
    ys = np.full((max_tracks, n), np.nan)
    sizes = np.zeros((max_tracks, n))
    last: list[tuple[float, float] | None] = [None] * max_tracks
    for t in range(n):
        diff = np.abs(small[t].astype(np.int16) - background).max(axis=-1)
        mask = cv2.morphologyEx((diff > 28).astype(np.uint8), cv2.MORPH_OPEN, kernel)
        count, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
        blobs = [
            (centroids[i][0], centroids[i][1], stats[i, cv2.CC_STAT_AREA] / (width * height))
            for i in range(1, count)
            if stats[i, cv2.CC_STAT_AREA] >= min_area * width * height
        ]
        blobs.sort(key=lambda b: -b[2])
        free = list(range(max_tracks))
        for bx, by, area in blobs:
            candidates = [(np.hypot(bx - last[k][0], by - last[k][1]), k) for k in free if last[k] is not None]
            candidates = [c for c in candidates if c[0] < 0.25 * diag]
            if candidates:
                _, k = min(candidates)
            else:
                empty = [k for k in free if last[k] is None]
                if not empty:
                    continue
                k = empty[0]
            free.remove(k)
            xs[k, t], ys[k, t], sizes[k, t] = bx / width, by / height, area
            last[k] = (bx, by)
        for k in free:  # a track unseen this frame may come back, but forgets where it was after 6 frames
            if last[k] is not None and t >= 6 and np.all(np.isnan(xs[k, t - 5 : t + 1])):
                last[k] = None
    return [Track(xs[k], ys[k], sizes[k]) for k in range(max_tracks) if np.sum(~np.isnan(xs[k])) >= min_frames]


def tracks_from_flow(frames: np.ndarray) -> list[Track]:
    """One track: where motion happens (flow-magnitude-weighted centroid) and how much of it."""
    small = _small(frames)
    n, height, width, _ = small.shape
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in small]
    gx, gy = np.meshgrid(np.arange(width) / width, np.arange(height) / height)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    energy = np.zeros(n)
    for t in range(1, n):
        flow = cv2.calcOpticalFlowFarneback(gray[t - 1], gray[t], None, 0.5, 3, 11, 3, 5, 1.1, 0)
        mag = np.hypot(flow[..., 0], flow[..., 1])
        weight = np.where(mag > max(0.25, np.percentile(mag, 90)), mag, 0.0)
        total = weight.sum()
        energy[t] = mag.mean()
        if total > 1e-6 and energy[t] > 0.05:
            x[t] = float((weight * gx).sum() / total)
            y[t] = float((weight * gy).sum() / total)
    peak = energy.max()
    return [Track(x, y, energy / peak if peak > 0 else energy)] if np.sum(~np.isnan(x)) >= 3 else []


def motion_events(
    tracks: list[Track], window: int = 2, min_speed: float = 0.004, refractory: int = 2
) -> list[MotionEvent]:
    """Frames where a track bounces or turns sharply.

    Velocity before and after frame k is averaged over `window` frames; an event needs both
    speeds above `min_speed` (fraction of the frame per frame) so jitter of a resting object
    stays silent. Among neighbouring candidates only the sharpest change is kept.
    """
    events: list[MotionEvent] = []
    for index, track in enumerate(tracks):
        pos = np.stack([track.x, track.y], axis=1)
        n = len(pos)
        candidates: list[tuple[int, float, str]] = []
        for k in range(window, n - window):
            seg = pos[k - window : k + window + 1]
            if np.isnan(seg).any():
                continue
            before = (pos[k] - pos[k - window]) / window
            after = (pos[k + window] - pos[k]) / window
            sb, sa = np.linalg.norm(before), np.linalg.norm(after)
            if sb < min_speed or sa < min_speed:
                continue
            cos = float(before @ after / (sb * sa))
            reversed_axis = bool(
                np.any((before * after < 0) & (np.abs(before) > min_speed) & (np.abs(after) > min_speed))
            )
            if cos < 0.5 or reversed_axis:
                change = float(np.linalg.norm(after - before) / max(sb, sa))
                candidates.append((k, change, "bounce" if reversed_axis else "turn"))
        last = -refractory - 1
        for k, change, kind in candidates:  # keep local maxima of change within +-window
            if any(abs(k2 - k) <= window and (c2 > change or (c2 == change and k2 < k)) for k2, c2, _ in candidates):
                continue
            if k - last <= refractory:  # one hit per track per refractory span: no machine-gun rattle
                continue
            last = k
            events.append(MotionEvent(k, index, kind, float(min(1.0, change / 2)), float(pos[k, 0]), float(pos[k, 1])))
    return sorted(events, key=lambda e: (e.frame, e.track))


# --------------------------------------------------------------------------- synthesis


def _fill_gaps(values: np.ndarray, default: float) -> np.ndarray:
    good = ~np.isnan(values)
    if not good.any():
        return np.full_like(values, default)
    idx = np.arange(len(values))
    return np.interp(idx, idx[good], values[good])


def _per_sample(per_frame: np.ndarray, fps: float, n_samples: int, sample_rate: int) -> np.ndarray:
    """Frame-rate control values -> sample-rate curves (linear between frame centres)."""
    frame_times = (np.arange(len(per_frame)) + 0.5) / fps
    return np.interp(np.arange(n_samples) / sample_rate, frame_times, per_frame)


def _pan(x: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    theta = np.clip(x, 0.0, 1.0) * (np.pi / 2)
    return np.cos(theta), np.sin(theta)


def low_pass(x: np.ndarray, alpha: float) -> np.ndarray:
    """The one-pole low-pass y[n] = alpha x[n] + (1 - alpha) y[n-1] down axis 0, as an FFT convolution with
    its impulse response cut where that falls below 1e-9. (scipy.signal's lfilter runs the recursion itself,
    but importing scipy.signal costs 0.7 s of the 4 s a cold `sora-lab generate` may take.)"""
    taps = int(np.ceil(np.log(1e-9) / np.log(1 - alpha)))
    response = alpha * (1 - alpha) ** np.arange(taps)
    size = 1 << (len(x) + taps - 1).bit_length()
    spectrum = np.fft.rfft(x, size, axis=0) * np.fft.rfft(response, size).reshape(-1, *[1] * (x.ndim - 1))
    return np.fft.irfft(spectrum, size, axis=0)[: len(x)].astype(x.dtype)


def _ambience(rng: np.random.Generator, brightness: np.ndarray, fps: float, n: int, sample_rate: int) -> np.ndarray:
    """Stereo filtered noise; brighter pictures get a slightly louder, airier bed."""
    white = rng.standard_normal((n, 2)).astype(np.float32)
    low = low_pass(white, 0.02)  # around ~150 Hz: a soft rumble/room tone
    level = 0.05 + 0.08 * _per_sample(brightness, fps, n, sample_rate)
    air = 0.004 * white * _per_sample(brightness, fps, n, sample_rate)[:, None]
    return (low * 4.0 * level[:, None] + air).astype(np.float32)


def _hit(freq: float, strength: float, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A percussive hit: instant attack, ~120 ms decay; pitched body plus a short noise click."""
    n = int(0.18 * sample_rate)
    t = np.arange(n) / sample_rate
    body = np.sin(2 * np.pi * freq * t) * np.exp(-t / 0.06)
    click = rng.standard_normal(n) * np.exp(-t / 0.008)
    return ((0.6 * body + 0.4 * click) * (0.35 + 0.65 * strength)).astype(np.float32)


def render_sound(
    tracks: list[Track],
    events: list[MotionEvent],
    brightness: np.ndarray,
    *,
    fps: float,
    n_frames: int,
    seed: int,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Stereo float32 (N, 2), N = round(n_frames / fps * sample_rate)."""
    rng = np.random.default_rng(seed)
    n = round(n_frames / fps * sample_rate)
    out = _ambience(rng, brightness, fps, n, sample_rate)
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    degrees = rng.permutation(PENTATONIC)
    base_freqs = [root * 2 ** ((degrees[i % 5] + 12 * (1 + i // 5)) / 12) for i in range(max(1, len(tracks)))]
    for i, track in enumerate(tracks):
        present = (~np.isnan(track.x)).astype(float)
        x = _fill_gaps(track.x, 0.5)
        y = _fill_gaps(track.y, 0.5)
        speed = np.zeros(len(x))
        speed[1:] = np.hypot(np.diff(x), np.diff(y)) * fps  # frame-widths per second
        loud = present * (0.05 + 0.10 * np.clip(speed / 0.5, 0, 1))
        loud = np.convolve(loud, np.ones(3) / 3, mode="same")  # no zipper noise at presence edges
        freq = base_freqs[i] * 2 ** (0.5 - y)  # top of the frame sounds up to half an octave higher
        f_s = _per_sample(freq, fps, n, sample_rate)
        phase = 2 * np.pi * np.cumsum(f_s) / sample_rate
        tone = (np.sin(phase) + 0.25 * np.sin(2 * phase)) * _per_sample(loud, fps, n, sample_rate)
        left, right = _pan(_per_sample(x, fps, n, sample_rate))
        out[:, 0] += (tone * left).astype(np.float32)
        out[:, 1] += (tone * right).astype(np.float32)
    for event in events:
        start = round(event.frame / fps * sample_rate)
        if start >= n:
            continue
        freq = 2 * base_freqs[event.track % len(base_freqs)] * 2 ** (0.5 - event.y)
        hit = _hit(freq, event.strength, rng, sample_rate)[: n - start]
        left, right = _pan(event.x)
        out[start : start + len(hit), 0] += 0.9 * hit * left
        out[start : start + len(hit), 1] += 0.9 * hit * right
    peak = float(np.abs(out).max())
    if peak > 0.95:
        out *= 0.95 / peak
    return out.astype(np.float32)


def design_sound(
    frames: np.ndarray, *, fps: float, seed: int, motion: str = "objects", sample_rate: int = SAMPLE_RATE
) -> Soundtrack:
    """The soundtrack for `frames` (T, H, W, 3) uint8 shown at `fps`.

    motion: 'objects' (segment and follow things on a backdrop) or 'flow' (optical motion).
    """
    if motion == "objects":
        tracks = tracks_from_objects(frames)
    elif motion == "flow":
        tracks = tracks_from_flow(frames)
    else:
        raise ValueError(f"motion must be 'objects' or 'flow', not {motion!r}")
    events = motion_events(tracks)
    brightness = _small(frames).mean(axis=(1, 2, 3)) / 255.0
    samples = render_sound(
        tracks, events, brightness, fps=fps, n_frames=len(frames), seed=seed, sample_rate=sample_rate
    )
    return Soundtrack(samples=samples, sample_rate=sample_rate, events=events, n_tracks=len(tracks))


# --------------------------------------------------------------------------- optional model-made ambience

AUDIO_PIPELINES = ("StableAudioPipeline", "AudioLDMPipeline", "AudioLDM2Pipeline")


class AmbienceModel:
    """A diffusers text-to-audio pipeline from a local folder, used as the background bed.

    The motion-derived tones and hits stay on top (they carry the sync); the model only replaces
    the filtered-noise ambience with something that fits the prompt (rain, a street, a crowd).
    """

    def __init__(self, folder: str, *, steps: int = 50, device: str | None = None):
        import json
        from pathlib import Path

        import torch
        from diffusers import DiffusionPipeline

        from sora_lab.core.errors import InputError

        self.folder = Path(folder).expanduser().resolve()
        index = self.folder / "model_index.json"
        name = json.loads(index.read_text()).get("_class_name") if index.is_file() else None
        if name not in AUDIO_PIPELINES:
            raise InputError(
                f"audio_model: {self.folder} is not a diffusers audio pipeline folder "
                f"({name or 'no model_index.json'}); supported: {', '.join(AUDIO_PIPELINES)}"
            )
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.pipe = DiffusionPipeline.from_pretrained(str(self.folder), local_files_only=True, use_safetensors=True)
        self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.steps = steps
        self.model_id = f"{name}:{self.folder.name}"

    def native_rate(self) -> int:
        if hasattr(self.pipe, "vocoder"):
            return int(self.pipe.vocoder.config.sampling_rate)
        return int(self.pipe.vae.config.sampling_rate)

    def max_seconds(self) -> float:
        config = getattr(self.pipe, "transformer", None)
        if config is not None and hasattr(self.pipe.vae.config, "downsampling_ratios"):
            hop = int(np.prod(self.pipe.vae.config.downsampling_ratios))
            return self.pipe.transformer.config.sample_size * hop / self.native_rate()
        return 30.0

    def render(self, prompt: str, *, seconds: float, seed: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """(N, 2) float32 at `sample_rate`, N = seconds * sample_rate; short model output is looped."""
        import inspect

        import torch
        from scipy.signal import resample_poly

        length = min(seconds, self.max_seconds())
        params = inspect.signature(self.pipe.__call__).parameters
        kwargs = {
            "prompt": prompt,
            "num_inference_steps": self.steps,
            "generator": torch.Generator(device="cpu").manual_seed(int(seed)),
            "output_type": "np",
        }
        kwargs["audio_end_in_s" if "audio_end_in_s" in params else "audio_length_in_s"] = length
        with torch.inference_mode():
            raw = np.asarray(self.pipe(**kwargs).audios[0], dtype=np.float32)
        raw = raw.T if raw.ndim == 2 and raw.shape[0] <= 2 else raw.reshape(-1, 1)  # -> (n, channels)
        if raw.shape[1] == 1:
            raw = np.repeat(raw, 2, axis=1)
        rate = self.native_rate()
        divisor = np.gcd(sample_rate, rate)
        audio = resample_poly(raw, sample_rate // divisor, rate // divisor, axis=0).astype(np.float32)
        return _loop_to(np.nan_to_num(audio), round(seconds * sample_rate))


def _loop_to(audio: np.ndarray, n: int, fade: int = 2400) -> np.ndarray:
    """Repeat `audio` (m, 2) with short cross-fades until it is exactly n samples long."""
    if len(audio) == 0:
        return np.zeros((n, 2), np.float32)
    fade = min(fade, len(audio) // 4)
    out = audio.copy()
    while len(out) < n:
        if fade:
            ramp = np.linspace(0, 1, fade, dtype=np.float32)[:, None]
            out[-fade:] = out[-fade:] * (1 - ramp) + audio[:fade] * ramp
            out = np.concatenate([out, audio[fade:]])
        else:
            out = np.concatenate([out, audio])
    return out[:n]


def with_bed(soundtrack: Soundtrack, bed: np.ndarray, level_db: float = -20.0) -> Soundtrack:
    """Mix a model-made ambience under the motion sound at `level_db` RMS (hits stay on top)."""
    rms = float(np.sqrt(np.mean(bed**2))) or 1.0
    scaled = bed[: len(soundtrack.samples)] * (10 ** (level_db / 20) / rms)
    mixed = soundtrack.samples + scaled
    peak = float(np.abs(mixed).max())
    if peak > 0.95:
        mixed *= 0.95 / peak
    return Soundtrack(mixed.astype(np.float32), soundtrack.sample_rate, soundtrack.events, soundtrack.n_tracks)
