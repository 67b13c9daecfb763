"""Provenance: visible moving watermark, signed C2PA manifest, verification and `sora-lab verify`."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest
from helpers.disc_world import bouncing_disc
from helpers.media import upscale_stream

from sora_lab import provenance
from sora_lab.core.errors import InputError
from sora_lab.generate import audio, encode


@pytest.fixture(scope="module")
def unsigned_mp4(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    world = bouncing_disc(48, width=90, height=160, radius=7)
    sound = audio.design_sound(world.frames, fps=24, seed=0)
    path = folder / "unsigned.mp4"
    encode.encode_mp4(upscale_stream(world.frames), (360, 640), sound.samples, 48000, path)
    return path


@pytest.fixture
def signed(tmp_path, unsigned_mp4):
    identity = provenance.ensure_signing_identity(tmp_path / "home")
    facts = provenance.GenerationFacts(
        creator="maya",
        prompt_sha256=provenance.prompt_sha256("a red ball"),
        model_id="tiny@1",
        parent_video_id="ab" * 8,
    )
    path = tmp_path / "signed.mp4"
    provenance.sign_mp4(unsigned_mp4, path, identity, facts)
    return path


def test_signing_identity_is_created_once_with_private_key_0600(tmp_path):
    first = provenance.ensure_signing_identity(tmp_path)
    key = first.key_path.read_bytes()
    second = provenance.ensure_signing_identity(tmp_path)
    assert second.key_path.read_bytes() == key
    assert stat.S_IMODE(os.stat(first.key_path).st_mode) == 0o600
    assert first.chain_path.read_text().count("BEGIN CERTIFICATE") == 2


def test_signed_file_verifies_with_generation_facts(signed):
    report = provenance.verify(signed)
    assert report["c2pa_valid"] is True and report["tampered"] is False and report["signed"] is True
    assert report["ai_generated"] is True
    assert report["generator"] == "tiny@1"
    assert report["creator"] == "@maya"
    assert report["prompt_sha256"] == provenance.prompt_sha256("a red ball")
    assert report["parent_video_id"] == "ab" * 8
    assert "signingCredential.untrusted" in report["status_codes"]  # local CA, not a public anchor


def test_signed_file_still_plays_with_faststart(signed):
    info = encode.probe(signed)
    assert info.n_frames == 48 and info.audio_codec == "aac" and info.faststart


def test_flipped_bytes_are_reported_as_tampering(signed, tmp_path):
    data = bytearray(signed.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    bad = tmp_path / "tampered.mp4"
    bad.write_bytes(bytes(data))
    report = provenance.verify(bad)
    assert report["signed"] is True and report["tampered"] is True and report["c2pa_valid"] is False


def test_unsigned_and_non_media_files_are_not_valid(unsigned_mp4, tmp_path):
    report = provenance.verify(unsigned_mp4)
    assert report == report | {"c2pa_valid": False, "tampered": False, "signed": False, "ai_generated": False}
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert provenance.verify(text)["signed"] is False
    with pytest.raises(InputError, match="does not exist"):
        provenance.verify(tmp_path / "missing.mp4")


def _cli(*args):
    """The installed `sora-lab` entry point: sora_lab.cli.main imported as a module, then app()."""
    command = [sys.executable, "-c", "from sora_lab.cli.main import app; app()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_verify_command_json_and_exit_codes(signed, unsigned_mp4, tmp_path):
    ok = _cli("verify", str(signed), "--json")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert {k: report[k] for k in ("c2pa_valid", "ai_generated", "generator", "creator", "tampered")} == {
        "c2pa_valid": True,
        "ai_generated": True,
        "generator": "tiny@1",
        "creator": "@maya",
        "tampered": False,
    }
    unsigned = _cli("verify", str(unsigned_mp4), "--json")
    assert unsigned.returncode == 1 and json.loads(unsigned.stdout)["c2pa_valid"] is False
    data = bytearray(signed.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    tampered = _cli("verify", str(bad))
    assert tampered.returncode == 1 and "tampered" in tampered.stderr


def test_watermark_is_visible_and_moves_across_the_frame():
    n, fps = 240, 24
    frames = np.full((n, 640, 360, 3), 40, np.uint8)
    marked = provenance.burn_watermark(frames, fps, "maya")
    changed = np.abs(marked.astype(int) - frames).max(axis=-1) > 60
    assert changed.reshape(n, -1).any(axis=1).all(), "every frame carries the mark"
    boxes = []
    for mask in changed[:: fps * 2]:
        ys, xs = np.nonzero(mask)
        boxes.append((ys.mean(), xs.mean()))
    ys, xs = np.array(boxes).T
    assert np.ptp(xs) > 100 and np.ptp(ys) > 150, "the mark travels, so no fixed crop removes it"
    # the mark is drawn from text: the handle makes the mark wider than the lab name alone
    short = provenance.burn_watermark(frames[:1], fps, "al")
    long = provenance.burn_watermark(frames[:1], fps, "a_much_longer_handle")
    assert (np.abs(long.astype(int) - frames[:1]).max(-1) > 60).sum() > (
        np.abs(short.astype(int) - frames[:1]).max(-1) > 60
    ).sum()


def test_watermark_refuses_model_resolution_frames():
    with pytest.raises(InputError, match="upscale"):
        provenance.burn_watermark(np.zeros((2, 36, 20, 3), np.uint8), 24, "maya")


def test_signing_to_same_path_is_atomic(unsigned_mp4, tmp_path):
    copy = tmp_path / "inplace.mp4"
    shutil.copy(unsigned_mp4, copy)
    identity = provenance.ensure_signing_identity(tmp_path / "h")
    facts = provenance.GenerationFacts(creator="theo", prompt_sha256="0" * 64, model_id="m")
    provenance.sign_mp4(copy, copy, identity, facts)
    assert provenance.verify(copy)["c2pa_valid"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h", "inplace.mp4"]
