"""Sound design: hits line up with motion events (within one frame), deterministic per seed."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.disc_world import bouncing_disc
from helpers.media import onset_times

from sora_lab.generate import audio, postprocess

FRAME = 1 / 24


def _nearest_gaps(onsets: np.ndarray, events_s: np.ndarray) -> np.ndarray:
    return np.array([np.min(np.abs(onsets - t)) for t in events_s])


def test_hits_land_on_bounces_within_one_frame():
    world = bouncing_disc(240)
    assert len(world.bounce_frames) >= 10
    track = audio.design_sound(world.frames, fps=24, seed=3)
    assert track.samples.shape == (480_000, 2) and track.samples.dtype == np.float32
    assert np.abs(track.samples).max() <= 1.0
    bounce_s = np.array(world.bounce_frames) / 24
    onsets = onset_times(track.samples)
    # every bounce is heard within one frame ...
    assert _nearest_gaps(onsets, bounce_s).max() <= FRAME
    # ... and every hit belongs to a bounce (no hits while the disc flies straight)
    assert _nearest_gaps(bounce_s, onsets).max() <= FRAME + 0.005


def test_hits_follow_interpolated_motion_of_few_keyframes():
    """Tiny-model-like input: 16 keyframes at 1.6 fps, interpolated; hits follow what is on screen."""
    keys = bouncing_disc(16, width=20, height=36, radius=3, fps=1.6, speed=(0.3, 0.2), start=(0.4, 0.3))
    timeline = postprocess.timeline_for(10)
    working = postprocess.smooth_motion(keys.frames, 1.6, timeline)
    track = audio.design_sound(working, fps=24, seed=1)
    # ground truth: the keyframes where the disc touches a wall, at their place on the 24 fps timeline
    truth_s = np.array(keys.bounce_frames) * (timeline.n_frames - 1) / (len(keys.frames) - 1) / 24
    assert len(truth_s) >= 2 and track.events, "a bouncing disc must make hits"
    onsets = onset_times(track.samples)
    event_s = np.array([e.frame for e in track.events]) / 24
    assert _nearest_gaps(onsets, event_s).max() <= FRAME  # the hit sounds where the event is ...
    assert _nearest_gaps(event_s, truth_s).max() <= FRAME  # ... every bounce on screen has its event
    assert _nearest_gaps(truth_s, event_s).max() <= FRAME  # ... and no event without a bounce


def test_still_picture_makes_no_hits():
    frames = np.full((48, 128, 72, 3), 90, np.uint8)
    frames[:, 50:70, 30:50] = 250  # a static square
    track = audio.design_sound(frames, fps=24, seed=5)
    assert track.events == []
    assert len(onset_times(track.samples)) <= 1


def test_same_seed_same_sound_other_seed_different():
    world = bouncing_disc(72)
    a = audio.design_sound(world.frames, fps=24, seed=11).samples
    b = audio.design_sound(world.frames, fps=24, seed=11).samples
    c = audio.design_sound(world.frames, fps=24, seed=12).samples
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_pan_follows_the_object():
    """Disc on the left -> more energy in the left channel, and vice versa."""
    left = bouncing_disc(48, speed=(0.0, 0.9), start=(0.1, 0.3))
    right = bouncing_disc(48, speed=(0.0, 0.9), start=(0.9, 0.3))
    for world, louder in ((left, 0), (right, 1)):
        samples = audio.design_sound(world.frames, fps=24, seed=0).samples
        energy = (samples**2).sum(axis=0)
        assert energy[louder] > 1.5 * energy[1 - louder]


def test_flow_tracks_find_motion_without_segmentation():
    world = bouncing_disc(96)
    track = audio.design_sound(world.frames, fps=24, seed=2, motion="flow")
    assert track.n_tracks == 1
    bounce_s = np.array(world.bounce_frames) / 24
    event_s = np.array([e.frame for e in track.events]) / 24
    assert len(event_s) >= len(bounce_s) // 2
    assert _nearest_gaps(event_s, bounce_s).max() <= 2 * FRAME


def test_unknown_motion_mode_is_refused():
    with pytest.raises(ValueError, match="motion"):
        audio.design_sound(np.zeros((4, 16, 9, 3), np.uint8), fps=24, seed=0, motion="magic")


def test_low_pass_is_the_one_pole_recursion():
    """The ambience's FFT low-pass (no scipy.signal on the generate path) is the recursion y = a x + (1 - a) y'."""
    from scipy.signal import lfilter

    noise = np.random.default_rng(0).standard_normal((48_000, 2)).astype(np.float32)
    for alpha in (0.02, 0.3):
        expected = np.stack([lfilter([alpha], [1, alpha - 1], noise[:, c]) for c in range(2)], axis=1)
        got = audio.low_pass(noise, alpha)
        assert got.dtype == np.float32 and got.shape == noise.shape
        assert np.abs(got - expected).max() < 1e-6
    impulse = np.zeros(8, np.float32)
    impulse[0] = 1
    assert np.allclose(audio.low_pass(impulse, 0.5), 0.5 ** np.arange(1, 9), atol=1e-7)
