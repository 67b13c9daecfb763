"""One clip, end to end: check inputs -> backend -> motion -> sound -> upscale + watermarks -> encode -> poster -> C2PA.

Two halves: `render_unsigned` (everything up to the watermarked MP4; needs no signing key, so it may
run on a Ray actor) and `sign_render` (the C2PA manifest, which names the file; the lab's side).
`render_video` runs both. Each is one input check, then numbered stages, each a plain call timed by a
`StageTimer`, so `make bench` can print where the seconds go. Everything is written inside
`staging` (a folder on the same filesystem as the media folder); the caller renames the finished
files into place, so a crash never leaves a half-written file where the feed looks.

Each frame gets the visible watermark (for people) and then the invisible one (a key the lab can
read back from a re-encoded, cropped or trimmed copy); one frame a second is fingerprinted (PDQ) as
it goes to the encoder. The manifest declares both as C2PA soft bindings (sora_lab.provenance).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sora_lab import provenance
from sora_lab.core.errors import InputError
from sora_lab.core.timing import StageTimer
from sora_lab.generate import audio, encode, postprocess
from sora_lab.generate.base import Backend, Clip
from sora_lab.provenance import invisible, soft_binding
from sora_lab.provenance.fingerprint import Fingerprint, FingerprintBuilder

CONTENT_ID_HEX = 32
"""Hex characters of sha256 used as a video id (128 bits; the media route accepts 16-64)."""

Stage = Callable[[str, float], None]
"""stage_progress(stage_name, fraction_done 0..1) for queues and progress bars."""


@dataclass
class UnsignedRender:
    """An encoded MP4 with both watermarks but no manifest yet, its poster, and what the signer needs.

    What an executor returns (a Ray actor included): the lab's server signs, names and stores it,
    because it owns the signing key and the database.
    """

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
    mark_key: int = 0
    """The key the invisible watermark carries (sora_lab.provenance.invisible)."""
    fingerprint: Fingerprint | None = None
    """PDQ hashes of one finished frame a second (sora_lab.provenance.fingerprint)."""
    reading: dict | None = None
    """Tiny model, when asked: the evaluator's colour, shape and motion read back from the model's frames."""


@dataclass
class RenderedVideo(UnsignedRender):
    """A finished, signed MP4 named by its content id, and its poster, still in the staging folder."""

    video_id: str = ""


def content_id(path: Path) -> str:
    """The file's sha256, shortened: identical bytes get the same id, so a clip is stored once."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:CONTENT_ID_HEX]


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
    mark_key: int | None = None,
) -> RenderedVideo:
    """Render, finish and sign one clip inside `staging`: `render_unsigned` then `sign_render`.

    mark_key: the invisible watermark's key (the runner picks one no stored clip has); default random.
    """
    unsigned = render_unsigned(
        backend, prompt=prompt, seconds=seconds, seed=seed, creator=creator, staging=staging,
        mark_secret=invisible.secret_from_key_file(identity.key_path.read_bytes()),
        mark_key=invisible.random_key() if mark_key is None else mark_key, reference=reference, size_wh=size_wh,
        motion=motion, encode_settings=encode_settings, on_stage=on_stage,
    )
    return sign_render(unsigned, identity=identity, prompt=prompt, creator=creator,
                       parent_video_id=parent_video_id, on_stage=on_stage)


def render_unsigned(
    backend: Backend,
    *,
    prompt: str,
    seconds: float,
    seed: int,
    creator: str,
    staging: Path,
    mark_secret: bytes,
    mark_key: int,
    reference: np.ndarray | None = None,
    size_wh: tuple[int, int] = postprocess.DELIVERY_SIZE,
    motion: str | None = None,
    encode_settings: encode.EncodeSettings = encode.EncodeSettings(),
    on_stage: Stage | None = None,
    measure: bool = False,
) -> UnsignedRender:
    """Render one clip inside `staging` up to the encoded, watermarked, unsigned MP4 and its poster.

    Needs no signing key: the invisible watermark's secret and key are decided by the caller (the
    lab's server), so this half can run anywhere (sora_lab.videos.executors).
    motion: how sound finds movement — 'objects' (tiny world) or 'flow' (any footage);
    default: 'objects' for the tiny backend, 'flow' otherwise.
    measure: read colour, shape and motion back from the model's frames (tiny model; prompt sweeps).
    on_stage: called with ('model' | 'motion' | 'audio' | 'encode', fraction).
    """
    timeline = _check_inputs(seconds, size_wh)
    report = on_stage or (lambda stage, fraction: None)
    staging.mkdir(parents=True, exist_ok=True)
    timer = StageTimer()

    # 1. Model: the backend's own frames, at its own size and frame rate.
    with timer.stage("model"):
        report("model", 0.0)
        clip = backend.render(
            prompt,
            seconds=timeline.seconds,
            seed=seed,
            reference=reference,
            progress=lambda done, total: report("model", done / max(1, total)),
        )
        _check_clip(clip)
    reading = _reading(clip) if measure and backend.name == "tiny" else None

    # 2. Motion: retimed to the output frame rate, with smooth in-between frames.
    with timer.stage("motion"):
        report("motion", 0.0)
        working = postprocess.smooth_motion(clip.frames, clip.fps, timeline)

    # 3. Audio: effects synced to what moves, over the backend's ambience when it has an audio model.
    with timer.stage("audio"):
        report("audio", 0.0)
        motion = motion or ("objects" if backend.name == "tiny" else "flow")
        soundtrack = audio.design_sound(working, fps=timeline.fps, seed=seed, motion=motion)
        ambience = getattr(backend, "ambience", None)  # optional text-to-audio model (pretrained backends)
        if ambience is not None:
            bed = ambience.render(prompt, seconds=timeline.seconds, seed=seed, sample_rate=soundtrack.sample_rate)
            soundtrack = audio.with_bed(soundtrack, bed)

    mark = provenance.Watermark(size_wh, timeline.fps, timeline.n_frames, creator)
    hidden = invisible.InvisibleMark(mark_secret, mark_key, size_wh)
    fingerprint = FingerprintBuilder(len(working), timeline.fps)

    def finished(index: int) -> np.ndarray:
        """Frame `index` at the delivery size with the visible, then the invisible watermark."""
        frame = postprocess.upscale_frame(working[index], size_wh, clip.frames.shape[1])
        return hidden.apply(mark.apply(frame, index))

    def frames_for_the_encoder() -> Iterator[np.ndarray]:
        """Finished one by one as the encoder pulls them, so a full-size clip never sits in memory."""
        for index in range(len(working)):
            with timer.stage("upscale_watermark"):
                frame = finished(index)
            with timer.stage("fingerprint"):
                fingerprint.add(index, frame)
            if index % 24 == 0:
                report("encode", index / timeline.n_frames)
            yield frame

    # 4. Upscale + watermark + encode: H.264 and AAC in a fast-start MP4.
    unsigned = staging / f".unsigned-{os.getpid()}-{seed}-{mark_key}.mp4"
    try:
        with timer.stage("encode"):
            report("encode", 0.0)
            encode.encode_mp4(
                frames_for_the_encoder(), size_wh, soundtrack.samples, soundtrack.sample_rate, unsigned, encode_settings
            )
    except BaseException:
        unsigned.unlink(missing_ok=True)
        raise
    timer.seconds["encode"] -= timer.seconds["upscale_watermark"] + timer.seconds["fingerprint"]  # count once

    # 5. Poster: the frame a third of the way in, finished like the video's frames.
    with timer.stage("poster"):
        poster_path = encode.write_poster(finished(timeline.n_frames // 3), unsigned.with_suffix(".jpg"))

    return UnsignedRender(
        mp4_path=unsigned,
        poster_path=poster_path,
        seconds=timeline.seconds,
        n_frames=timeline.n_frames,
        width=size_wh[0],
        height=size_wh[1],
        fps=timeline.fps,
        backend=backend.name,
        model_id=backend.model_id,
        seed=seed,
        timings=timer.finish(),
        sound_events=len(soundtrack.events),
        sound_tracks=soundtrack.n_tracks,
        clip_meta=dict(clip.meta),
        mark_key=mark_key,
        fingerprint=fingerprint.result(),
        reading=reading,
    )


def sign_render(
    unsigned: UnsignedRender,
    *,
    identity: provenance.SigningIdentity,
    prompt: str,
    creator: str,
    parent_video_id: str | None = None,
    on_stage: Stage | None = None,
) -> RenderedVideo:
    """The lab's half: a C2PA manifest (AI-generated, by whom, which model, soft bindings) over the
    unsigned MP4; the signed file's hash names it, and the poster gets the same name."""
    report = on_stage or (lambda stage, fraction: None)
    timer = StageTimer()
    staging = unsigned.mp4_path.parent
    signed = staging / f".signed-{unsigned.mp4_path.stem.lstrip('.')}.mp4"
    try:
        with timer.stage("sign"):
            report("sign", 0.0)
            facts = provenance.GenerationFacts(
                creator=creator,
                prompt_sha256=provenance.prompt_sha256(prompt),
                model_id=unsigned.model_id,
                parent_video_id=parent_video_id,
                soft_bindings=tuple(soft_binding.assertions(unsigned.mark_key, unsigned.fingerprint)),
            )
            provenance.sign_mp4(unsigned.mp4_path, signed, identity, facts)
            video_id = content_id(signed)
            mp4_path = staging / f"{video_id}.mp4"
            os.replace(signed, mp4_path)
            poster_path = staging / f"{video_id}.jpg"
            os.replace(unsigned.poster_path, poster_path)
    finally:
        unsigned.mp4_path.unlink(missing_ok=True)  # scratch files; `signed` is gone already when all went well
        signed.unlink(missing_ok=True)
    sign_s = timer.seconds["sign"]
    timings = unsigned.timings | {"sign": round(sign_s, 4), "total": round(unsigned.timings["total"] + sign_s, 4)}
    report("done", 1.0)
    fields_ = {f.name: getattr(unsigned, f.name) for f in dataclasses.fields(UnsignedRender)}
    return RenderedVideo(**fields_ | {"mp4_path": mp4_path, "poster_path": poster_path, "timings": timings,
                                      "video_id": video_id})


def _reading(clip: Clip) -> dict:
    """The tiny evaluator's reading of the model's frames (sora_lab.generate.tiny.measure)."""
    from sora_lab.generate.tiny.measure import measure_clip

    measured = measure_clip(clip.frames)
    return {"color": measured.color, "shape": measured.shape, "motion": measured.motion}


def _check_inputs(seconds: float, size_wh: tuple[int, int]) -> postprocess.Timeline:
    """Refuse a size or a length the pipeline cannot deliver; the timeline says how many frames at what rate."""
    if size_wh[0] < 360 or size_wh[1] < 640 or size_wh[0] * 16 != size_wh[1] * 9:
        raise InputError(f"size: {size_wh[0]}x{size_wh[1]} must be 9:16 and at least 360x640 (e.g. 720x1280)")
    return postprocess.timeline_for(seconds)


def _check_clip(clip: Clip) -> None:
    """A backend's output must be uint8 RGB frames, at least one, at a positive frame rate."""
    frames = clip.frames
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"backend returned frames {getattr(frames, 'shape', None)}; expected uint8 (T, H, W, 3)")
    if frames.shape[0] < 1 or clip.fps <= 0:
        raise InputError(f"backend returned {frames.shape[0]} frames at {clip.fps} fps; expected at least 1 frame")
