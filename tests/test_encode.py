"""Encoding and post-processing: what a player sees, checked by decoding the file with PyAV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers.disc_world import bouncing_disc
from helpers.media import decode_audio, onset_times, run_ffprobe_like, upscale_stream

from sora_lab.generate import audio, encode, postprocess

FRAME = 1 / 24


def _encode(tmp_path, keyframes: np.ndarray, fps: float, seconds: float, name="clip.mp4"):
    timeline = postprocess.timeline_for(seconds)
    working = postprocess.smooth_motion(keyframes, fps, timeline)
    sound = audio.design_sound(working, fps=timeline.fps, seed=0)
    path = tmp_path / name
    encode.encode_mp4(upscale_stream(working), (360, 640), sound.samples, sound.sample_rate, path)
    return path, timeline, sound


def test_ten_second_clip_plays_with_exact_duration(tmp_path):
    keys = bouncing_disc(16, width=20, height=36, radius=3, fps=1.6, speed=(0.3, 0.5), start=(0.4, 0.3))
    path, timeline, _ = _encode(tmp_path, keys.frames, 1.6, 10.0)
    info = encode.probe(path)
    assert (info.width, info.height) == (360, 640)
    assert info.fps == 24 and info.n_frames == 240
    assert abs(info.duration - 10.0) <= FRAME
    assert info.audio_duration is not None and abs(info.audio_duration - 10.0) <= FRAME
    assert (info.video_codec, info.pix_fmt, info.audio_codec, info.audio_rate) == ("h264", "yuv420p", "aac", 48000)
    assert info.faststart, "moov must precede mdat (+faststart) so browsers start playing early"
    assert "Video: h264 (High)" in run_ffprobe_like(path)


@pytest.mark.parametrize("seconds", [1.0, 3.3, 7.5])
def test_duration_exact_to_one_frame_for_odd_lengths(tmp_path, seconds):
    keys = bouncing_disc(16, width=20, height=36, radius=3, fps=16 / seconds)
    path, timeline, _ = _encode(tmp_path, keys.frames, 16 / seconds, seconds)
    info = encode.probe(path)
    assert info.n_frames == timeline.n_frames == round(seconds * 24)
    assert abs(info.duration - seconds) <= FRAME


def test_sound_in_the_file_lines_up_with_bounces(tmp_path):
    """After AAC encoding and decoding, hits still sit on the bounce frames (within one frame)."""
    world = bouncing_disc(120, width=90, height=160, radius=7)
    sound = audio.design_sound(world.frames, fps=24, seed=4)
    path = tmp_path / "sync.mp4"
    encode.encode_mp4(upscale_stream(world.frames), (360, 640), sound.samples, 48000, path)
    decoded, rate = decode_audio(path)
    assert rate == 48000 and decoded.shape[1] == 2
    onsets = onset_times(decoded, rate)
    bounces = np.array(world.bounce_frames) / 24
    assert len(bounces) >= 4
    assert max(np.min(np.abs(onsets - b)) for b in bounces) <= FRAME


def test_interpolation_moves_objects_smoothly_instead_of_fading():
    keys = bouncing_disc(16, width=20, height=36, radius=3, fps=1.6, speed=(0.3, 0.6), start=(0.4, 0.3))
    timeline = postprocess.timeline_for(10)
    working = postprocess.smooth_motion(keys.frames, 1.6, timeline)
    tracks = audio.tracks_from_objects(working)
    assert len(tracks) == 1, "a cross-fade would show two half-bright discs (two tracks)"
    x, y = tracks[0].x * working.shape[2], tracks[0].y * working.shape[1]
    steps = np.hypot(np.diff(x), np.diff(y))
    scale = working.shape[1] / 36
    fastest = np.hypot(*np.diff(keys.centres, axis=0).T).max() * scale * 15 / 239
    assert np.nanmax(steps) <= 1.5 * fastest + 0.5


def test_flow_interpolation_for_textured_footage():
    """Textured frames (no plain backdrop) go through optical flow: a shifted texture lands halfway."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (200, 140, 3), np.uint8), (0, 0), 2)
    a = texture[20:164, 20:100]
    b = texture[20:164, 24:104]  # content moves 4 px left
    frames = postprocess.interpolate(np.stack([a, b]), postprocess.Timeline(n_frames=3))
    middle = texture[20:164, 22:102].astype(float)
    assert np.abs(frames[1].astype(float) - middle)[10:-10, 10:-10].mean() < 6
    blend = (a.astype(float) + b) / 2
    assert np.abs(blend - middle)[10:-10, 10:-10].mean() > np.abs(frames[1] - middle)[10:-10, 10:-10].mean()


def test_upscale_is_crisp():
    """A hard edge at model resolution stays a short ramp after an 18x upscale."""
    small = np.zeros((36, 20, 3), np.uint8)
    small[:, 10:] = 255
    big = postprocess.upscale_frame(small, (360, 640))
    row = big[320, :, 0].astype(float)
    ramp = np.sum((row > 25) & (row < 230))
    assert ramp <= 12, f"edge spread over {ramp} px"
    plain = cv2.resize(small, (360, 640), interpolation=cv2.INTER_LINEAR)[320, :, 0].astype(float)
    assert ramp < np.sum((plain > 25) & (plain < 230))


def test_crop_keeps_vertical_aspect():
    square = np.zeros((2, 64, 64, 3), np.uint8)
    assert postprocess.crop_to_aspect(square).shape[1:3] == (64, 36)
    wide = np.zeros((2, 36, 100, 3), np.uint8)
    cropped = postprocess.crop_to_aspect(wide)
    assert cropped.shape[1] == 36 and abs(cropped.shape[2] / 36 - 9 / 16) < 0.03


def test_failed_encode_leaves_no_file(tmp_path):
    path = tmp_path / "bad.mp4"
    frames = [np.zeros((640, 360, 3), np.uint8), np.zeros((10, 10, 3), np.uint8)]
    with pytest.raises(encode.EncodeError, match="frame 1"):
        encode.encode_mp4(iter(frames), (360, 640), np.zeros((4000, 2), np.float32), 48000, path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_poster_is_a_jpeg_of_the_frame(tmp_path):
    frame = np.zeros((640, 360, 3), np.uint8)
    frame[:, :, 0] = 200
    path = encode.write_poster(frame, tmp_path / "p.jpg")
    image = cv2.imread(str(path))
    assert image.shape == (640, 360, 3) and abs(int(image[..., 2].mean()) - 200) < 4
    assert [p.name for p in tmp_path.iterdir()] == ["p.jpg"]


def test_seconds_out_of_range_is_refused():
    from sora_lab.core.errors import InputError

    with pytest.raises(InputError, match="seconds"):
        postprocess.timeline_for(0.2)


@pytest.mark.browser
def test_headless_chromium_plays_the_clip(tmp_path):
    """The browser's own demuxer/decoder: readyState >= 3 (can play), duration within one frame, time advances."""
    from playwright.sync_api import sync_playwright

    keys = bouncing_disc(16, width=20, height=36, radius=3, fps=1.6, speed=(0.3, 0.5), start=(0.4, 0.3))
    path, _, _ = _encode(tmp_path, keys.frames, 1.6, 10.0)
    page_file = tmp_path / "play.html"
    page_file.write_text(f'<video id="v" src="{path.name}" muted preload="auto"></video>')
    wait_ready = """() => new Promise(resolve => {
        const v = document.getElementById('v');
        const done = () => resolve({ready: v.readyState, duration: v.duration, w: v.videoWidth, h: v.videoHeight,
                                    error: v.error && v.error.code});
        if (v.readyState >= 3) done();
        v.addEventListener('canplay', done); v.addEventListener('error', done); setTimeout(done, 20000);
    })"""
    play = """() => new Promise(resolve => { const v = document.getElementById('v');
        v.play().then(() => setTimeout(() => resolve(v.currentTime), 1000)).catch(e => resolve(-1)); })"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            state = page.evaluate(wait_ready)
            advanced = page.evaluate(play)
        finally:
            browser.close()
    assert state["error"] is None and state["ready"] >= 3
    assert abs(state["duration"] - 10.0) <= FRAME and (state["w"], state["h"]) == (360, 640)
    assert advanced > 0.3
