"""One clip, end to end: backend -> motion -> sound -> upscale + watermark -> encode -> C2PA -> content id.

The stages are plain function calls in order, each timed, so `make bench` can print where the
seconds go. Everything is written inside `staging` (a folder on the same filesystem as the
media folder); the caller renames the finished files into place, so a crash never leaves a
half-written file where the feed looks.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sora_lab import provenance
from sora_lab.core.errors import InputError
from sora_lab.generate import audio, encode, postprocess
from sora_lab.generate.base import Backend, Clip

CONTENT_ID_HEX = 32
"""Hex characters of sha256 used as a video id (128 bits; the media route accepts 16-64)."""

Stage = Callable[[str, float], None]
"""stage_progress(stage_name, fraction_done 0..1) for queues and progress bars."""


@dataclass
class RenderedVideo:
    """A finished, signed MP4 and its poster, still in the staging folder."""

    video_id: str
    mp4_path: Path
    poster_path: Path
    seconds: float
    n_frames: int
    width: int
    height: int
    fps: int
    backend: str
    model_id: str
    seed: int
    timings: dict[str, float]
    sound_events: int
    sound_tracks: int
    clip_meta: dict = field(default_factory=dict)


def content_id(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:CONTENT_ID_HEX]


def _validate_clip(clip: Clip) -> None:
    frames = clip.frames
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"backend returned frames {getattr(frames, 'shape', None)}; expected uint8 (T, H, W, 3)")
    if frames.shape[0] < 1 or clip.fps <= 0:
        raise InputError(f"backend returned {frames.shape[0]} frames at {clip.fps} fps; expected at least 1 frame")


def render_video(
    backend: Backend,
    *,
    prompt: str,
    seconds: float,
    seed: int,
    creator: str,
    staging: Path,
    identity: provenance.SigningIdentity,
    parent_video_id: str | None = None,
    reference: np.ndarray | None = None,
    size_wh: tuple[int, int] = postprocess.DELIVERY_SIZE,
    motion: str | None = None,
    encode_settings: encode.EncodeSettings = encode.EncodeSettings(),
    on_stage: Stage | None = None,
) -> RenderedVideo:
    """Render, finish and sign one clip inside `staging`; returns where the files are.

    motion: how sound finds movement — 'objects' (tiny world) or 'flow' (any footage);
    default: 'objects' for the tiny backend, 'flow' otherwise.
    """
    if size_wh[0] < 360 or size_wh[1] < 640 or size_wh[0] * 16 != size_wh[1] * 9:
        raise InputError(f"size: {size_wh[0]}x{size_wh[1]} must be 9:16 and at least 360x640 (e.g. 720x1280)")
    timeline = postprocess.timeline_for(seconds)
    timings: dict[str, float] = {}
    report = on_stage or (lambda stage, fraction: None)
    staging.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    report("model", 0.0)
    clip = backend.render(
        prompt,
        seconds=timeline.seconds,
        seed=seed,
        reference=reference,
        progress=lambda done, total: report("model", done / max(1, total)),
    )
    _validate_clip(clip)
    timings["model"] = time.perf_counter() - started

    t = time.perf_counter()
    report("motion", 0.0)
    working = postprocess.smooth_motion(clip.frames, clip.fps, timeline)
    timings["motion"] = time.perf_counter() - t

    t = time.perf_counter()
    report("audio", 0.0)
    motion = motion or ("objects" if backend.name == "tiny" else "flow")
    soundtrack = audio.design_sound(working, fps=timeline.fps, seed=seed, motion=motion)
    ambience = getattr(backend, "ambience", None)  # optional text-to-audio model (pretrained backends)
    if ambience is not None:
        bed = ambience.render(prompt, seconds=timeline.seconds, seed=seed, sample_rate=soundtrack.sample_rate)
        soundtrack = audio.with_bed(soundtrack, bed)
    timings["audio"] = time.perf_counter() - t

    t = time.perf_counter()
    report("encode", 0.0)
    mark = provenance.Watermark(size_wh, timeline.fps, timeline.n_frames, creator)
    finish_time = [0.0]
    poster_frame: list[np.ndarray] = []
    poster_index = timeline.n_frames // 3

    def finished_frames() -> Iterator[np.ndarray]:
        for i, frame in enumerate(working):
            t0 = time.perf_counter()
            out = mark.apply(postprocess.upscale_frame(frame, size_wh, clip.frames.shape[1]), i)
            if i == poster_index:
                poster_frame.append(out.copy())
            finish_time[0] += time.perf_counter() - t0
            if i % 24 == 0:
                report("encode", i / timeline.n_frames)
            yield out

    unsigned = staging / f".unsigned-{os.getpid()}-{seed}.mp4"
    try:
        encode.encode_mp4(
            finished_frames(), size_wh, soundtrack.samples, soundtrack.sample_rate, unsigned, encode_settings
        )
        timings["upscale_watermark"] = finish_time[0]
        timings["encode"] = time.perf_counter() - t - finish_time[0]

        t = time.perf_counter()
        report("sign", 0.0)
        facts = provenance.GenerationFacts(
            creator=creator,
            prompt_sha256=provenance.prompt_sha256(prompt),
            model_id=backend.model_id,
            parent_video_id=parent_video_id,
        )
        signed = staging / f".signed-{os.getpid()}-{seed}.mp4"
        provenance.sign_mp4(unsigned, signed, identity, facts)
    finally:
        unsigned.unlink(missing_ok=True)
    try:
        video_id = content_id(signed)
        mp4_path = staging / f"{video_id}.mp4"
        os.replace(signed, mp4_path)
    except BaseException:
        signed.unlink(missing_ok=True)
        raise
    timings["sign"] = time.perf_counter() - t

    t = time.perf_counter()
    poster_path = encode.write_poster(poster_frame[0], staging / f"{video_id}.jpg")
    timings["poster"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    report("done", 1.0)
    return RenderedVideo(
        video_id=video_id,
        mp4_path=mp4_path,
        poster_path=poster_path,
        seconds=timeline.seconds,
        n_frames=timeline.n_frames,
        width=size_wh[0],
        height=size_wh[1],
        fps=timeline.fps,
        backend=backend.name,
        model_id=backend.model_id,
        seed=seed,
        timings={k: round(v, 4) for k, v in timings.items()},
        sound_events=len(soundtrack.events),
        sound_tracks=soundtrack.n_tracks,
        clip_meta=dict(clip.meta),
    )
