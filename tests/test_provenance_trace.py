"""`trace`: copies of a fresh tiny-model clip (re-encoded, resized, trimmed, cropped, stripped) trace back to
its record; an unrelated clip made with the same lab key does not; what the manifest and the rows hold.

One module-scoped lab makes three 6-second clips with the shipped tiny model (about 15 s on two idle
cores), then every test works on ffmpeg copies of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from sora_lab import provenance
from sora_lab.core.errors import AuthError, InputError
from sora_lab.generate import encode
from sora_lab.generate.backends import load_backend
from sora_lab.generate.pipeline import render_video
from sora_lab.lab import Lab
from sora_lab.provenance import fingerprint, invisible, registry
from sora_lab.provenance.trace import FRAME_RADIUS
from sora_lab.services import Services

PROMPT = "a red ball bounces on a navy background"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A lab with a published clip by maya and a draft by theo, and a clip of the same lab key not in it."""
    home = tmp_path_factory.mktemp("lab")
    folder = tmp_path_factory.mktemp("copies")
    with Lab.open(home) as lab:
        lab.admin.seed_demo()
        published = lab.videos.generate(as_user="maya", prompt=PROMPT, seed=3, seconds=6)
        draft = lab.videos.generate(as_user="theo", prompt="a green square moves left on a gray background",
                                    seed=5, seconds=6, draft=True)  # fmt: skip
    outside = render_video(  # same prompt, another seed, never stored: the closest an unrelated clip gets
        load_backend("tiny"), prompt=PROMPT, seconds=6, seed=11, creator="maya", staging=folder / "outside",
        identity=provenance.ensure_signing_identity(home),
    )  # fmt: skip
    return {"home": home, "folder": folder, "published": published, "draft": draft, "outside": outside.mp4_path}


def _copy(world, source, name: str, *args: str):
    out = world["folder"] / f"{name}.mp4"
    command = [encode.ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(source), *args, str(out)]
    subprocess.run(command, check=True, timeout=120)
    return out


def _trace(world, path, as_user="lab"):
    with Lab.open(world["home"]) as lab:
        return lab.provenance.trace(as_user=as_user, video=Path(path).read_bytes())


def test_generation_stores_the_key_and_fingerprint_and_the_manifest_declares_them(world):
    clip = world["published"]
    report = provenance.verify(clip["path"])
    assert report["c2pa_valid"] and not report["tampered"]  # the soft bindings did not break the signature
    declared = report["soft_bindings"]
    assert declared["watermark_key"] == clip["provenance"]["watermark_key"]
    services = Services.open(world["home"])
    try:
        with services.store.read() as cur:
            assert registry.mark_key_of(cur, clip["video_id"]) == declared["watermark_key"]
            _, ids, hashes = registry.fingerprints_after(cur, 0)
    finally:
        services.close()
    stored = [h.astype(">u8").tobytes().hex() for h, video_id in zip(hashes, ids, strict=True)
              if video_id == clip["video_id"]]  # fmt: skip
    assert len(stored) >= 5 and stored == declared["fingerprint"]  # one hash a second of a 6 s clip


def test_re_encoded_resized_and_trimmed_copies_trace_to_the_clip(world):
    source = world["published"]["path"]
    copies = {
        "reencoded": _copy(world, source, "reencoded", "-map_metadata", "-1", "-c:v", "libx264", "-crf", "30"),
        "resized": _copy(world, source, "resized", "-vf", "scale=180:320", "-c:v", "libx264", "-crf", "23"),
        "trimmed": _copy(world, source, "trimmed", "-ss", "2", "-t", "3", "-c:v", "libx264", "-crf", "23"),
    }
    for name, path in copies.items():
        result = _trace(world, path)
        assert result["matched"], (name, result)
        best = result["matches"][0]
        assert best["video_id"] == world["published"]["video_id"], name
        assert best["creator"] == "@maya" and best["published"] is True and best["created_at"].endswith("Z")
        assert best["signals"]["manifest"] is None  # the copies carry no manifest: content alone traced them
        assert best["signals"]["watermark"]["bit_agreement"] >= invisible.MIN_AGREEMENT, name
        assert best["signals"]["fingerprint"]["distance"] <= 20, (name, best["signals"]["fingerprint"])


def test_a_cropped_copy_traces_by_its_watermark(world):
    cropped = _copy(world, world["published"]["path"], "cropped", "-vf", "crop=iw*0.8:ih*0.8", "-an")
    best = _trace(world, cropped)["matches"][0]
    assert best["video_id"] == world["published"]["video_id"]
    assert best["signals"]["watermark"] is not None


def test_an_unrelated_clip_gets_no_match(world):
    for path in (world["outside"], _copy(world, world["outside"], "outside-small", "-vf", "scale=180:320")):
        result = _trace(world, path)
        assert result["matched"] is False and result["matches"] == []
        assert result["detail"].startswith("no match")


def test_the_intact_file_traces_by_its_manifest_too(world):
    best = _trace(world, world["published"]["path"])["matches"][0]
    assert best["signals"]["manifest"]["valid"] is True
    assert best["signals"]["fingerprint"]["distance"] <= 12  # hashed before encoding: the encode moves a few bits


def test_a_copy_of_someone_elses_draft_is_not_named(world):
    copy = _copy(world, world["draft"]["path"], "draft-copy", "-c:v", "libx264", "-crf", "28")
    seen_by_maya = _trace(world, copy, as_user="maya")["matches"]
    assert len(seen_by_maya) == 1 and seen_by_maya[0]["visible"] is False
    assert seen_by_maya[0]["video_id"] is None and seen_by_maya[0]["creator"] is None
    seen_by_theo = _trace(world, copy, as_user="theo")["matches"][0]
    assert seen_by_theo["video_id"] == world["draft"]["video_id"] and seen_by_theo["published"] is False


def test_bad_input_is_refused_with_the_field_named(world):
    with Lab.open(world["home"]) as lab:
        for bad in (b"", b"not a video at all" * 10, "a path"):
            with pytest.raises(InputError, match="video"):
                lab.provenance.trace(as_user="maya", video=bad)
        with pytest.raises(AuthError):
            lab.provenance.trace(as_user=None, video=b"x")


def test_cli_trace_json_and_verify_hint(world):
    stripped = _copy(world, world["published"]["path"], "stripped", "-map_metadata", "-1", "-c", "copy")

    def cli(*args):
        command = [sys.executable, "-c", "from sora_lab.cli.main import app; app()", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    checked = cli("verify", str(stripped), "--json")
    assert checked.returncode == 1 and "sora-lab trace" in json.loads(checked.stdout)["hint"]
    traced = cli("trace", str(stripped), "--home", str(world["home"]), "--json")
    assert traced.returncode == 0, traced.stderr
    assert json.loads(traced.stdout)["matches"][0]["video_id"] == world["published"]["video_id"]
    missed = cli("trace", str(world["outside"]), "--home", str(world["home"]), "--json")
    assert missed.returncode == 1 and json.loads(missed.stdout)["matched"] is False


def test_fingerprint_distances_separate_copies_from_other_clips(world):
    """The margin the match radius rests on: another seed of the same prompt stays well outside it."""
    frames = {}
    for name, path in (("clip", world["published"]["path"]), ("outside", world["outside"])):
        builder = fingerprint.FingerprintBuilder(144, 24)
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                builder.add(index, frame.to_ndarray(format="rgb24"))
        frames[name] = builder.result().hashes
    other = fingerprint.hamming(frames["clip"], frames["outside"]).min()
    assert other > FRAME_RADIUS + 10, f"another seed of the same prompt is only {other} bits away"
    assert np.all(np.diag(fingerprint.hamming(frames["clip"], frames["clip"])) == 0)
