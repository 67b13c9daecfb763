"""VideoService: generate, drafts, publish, remix, delete, limits, queue, and failure atomicity.

The frames come from tests/helpers/disc_world.DiscBackend (a bouncing disc at model resolution); the
rest of the pipeline — interpolation, sound, watermark, encode, C2PA, files, rows, events —
is the real one. tests/test_videos.py::test_tiny_backend_* runs the shipped model.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from helpers.disc_world import DiscBackend

from sora_lab.client import wait_for_job
from sora_lab.core.errors import Forbidden, InputError, LimitExceeded, NotFound, PolicyViolation
from sora_lab.core.home import media_dir
from sora_lab.generate import encode, pipeline
from sora_lab.videos import executors


@pytest.fixture
def backend(monkeypatch):
    disc = DiscBackend()
    monkeypatch.setattr(executors, "load_backend", lambda name, model=None, **options: disc)
    return disc


def _media_files(home):
    root = media_dir(home)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _events(services, type_):
    with services.store.read() as cur:
        return cur.execute(
            "SELECT user_id, video_id, target_id, props FROM events WHERE type = ? ORDER BY ts", [type_]
        ).fetchall()


def test_generate_writes_a_signed_content_addressed_clip(lab, services, home, backend):
    result = lab.videos.generate(as_user="maya", prompt="a yellow ball bounces on a navy background", seed=7)
    path = media_dir(home) / result["media_path"]
    assert result["path"] == str(path) and path.is_file()
    assert result["media_path"] == f"videos/{result['video_id']}.mp4"
    assert hashlib.sha256(path.read_bytes()).hexdigest().startswith(result["video_id"])
    assert len(result["video_id"]) == pipeline.CONTENT_ID_HEX
    assert (media_dir(home) / result["poster_path"]).is_file()
    assert result["status"] == "published" and result["published_at"]
    assert result["duration"] == 10.0 and result["seed"] == 7 and result["backend"] == "tiny"
    assert {"model", "motion", "audio", "upscale_watermark", "encode", "sign", "poster", "total"} <= set(
        result["timings"]
    )
    info = encode.probe(path)
    assert (info.width, info.height, info.n_frames, info.audio_codec) == (360, 640, 240, "aac")
    report = lab.videos.verify(video_id=result["video_id"])
    assert report["c2pa_valid"] and report["ai_generated"]
    assert report["creator"] == "@maya" and report["generator"] == "test-disc-world"
    assert _media_files(home) == sorted([result["media_path"], result["poster_path"]])
    maya = lab.accounts.whoami(as_user="maya")["user_id"]
    (generated,) = _events(services, "generate")
    assert generated[:2] == (maya, result["video_id"]) and json.loads(generated[3])["seed"] == 7
    assert [e[1] for e in _events(services, "publish")] == [result["video_id"]]
    assert result["sound_events"] >= 1  # the disc bounces: there is something to hear


def test_drafts_are_private_until_published(lab, backend):
    draft = lab.videos.generate(as_user="maya", prompt="a blue square moves right", seed=1, draft=True)
    assert draft["status"] == "draft" and draft["published_at"] is None
    with pytest.raises(NotFound):
        lab.videos.get(as_user="theo", video_id=draft["video_id"])
    assert lab.videos.get(as_user="maya", video_id=draft["video_id"])["status"] == "draft"
    assert [v["video_id"] for v in lab.videos.list_mine(as_user="maya", status="draft")] == [draft["video_id"]]
    with pytest.raises(Forbidden):
        lab.videos.publish(as_user="theo", video_id=draft["video_id"])
    published = lab.videos.publish(as_user="maya", video_id=draft["video_id"])
    assert published["status"] == "published" and published["published_at"]
    assert lab.videos.get(as_user="theo", video_id=draft["video_id"])["status"] == "published"
    assert lab.videos.unpublish(as_user="maya", video_id=draft["video_id"])["status"] == "draft"


def test_remix_keeps_lineage_in_row_events_and_manifest(lab, services, backend):
    parent = lab.videos.generate(as_user="maya", prompt="a red circle falls on a gray background", seed=3)
    child = lab.videos.remix(as_user="theo", video_id=parent["video_id"], prompt="a green circle falls", seed=4)
    assert child["parent_id"] == parent["video_id"] and child["author"] == "theo"
    assert child["duration"] == parent["duration"]
    report = lab.videos.verify(video_id=child["video_id"])
    assert report["parent_video_id"] == parent["video_id"] and report["creator"] == "@theo"
    ((user, video, target, _),) = _events(services, "remix")
    assert (video, target) == (child["video_id"], parent["video_id"])


def test_a_queued_remix_renders_with_the_options_it_asks_for(lab, monkeypatch):
    disc, asked = DiscBackend(), []
    monkeypatch.setattr(executors, "load_backend", lambda name, model=None, **options: asked.append(options) or disc)
    parent = lab.videos.generate(as_user="maya", prompt="a red circle falls on a gray background", seed=3, seconds=1)
    job = lab.videos.submit(as_user="maya", prompt="a red circle rises", remix_of=parent["video_id"], seed=4,
                            options={"guidance": 1.5})
    assert wait_for_job(lab, job, as_user="maya", bar="none", poll_s=0.05)["parent_id"] == parent["video_id"]
    assert asked[-1] == {"guidance": 1.5}
    with pytest.raises(InputError, match="options.steps"):
        lab.videos.submit(as_user="maya", prompt="x", remix_of=parent["video_id"], options={"steps": 0})


def test_delete_removes_files_and_hides_the_video(lab, services, home, backend):
    video = lab.videos.generate(as_user="maya", prompt="a white star spins on black", seed=2)
    with pytest.raises(Forbidden):
        lab.videos.delete(as_user="theo", video_id=video["video_id"])
    assert lab.videos.delete(as_user="maya", video_id=video["video_id"]) == {
        "video_id": video["video_id"],
        "status": "removed",
    }
    assert _media_files(home) == []
    with pytest.raises(NotFound):
        lab.videos.get(as_user="maya", video_id=video["video_id"])
    assert lab.videos.list_mine(as_user="maya") == []
    assert [e[1] for e in _events(services, "delete")] == [video["video_id"]]


def test_daily_limit_is_enforced_and_configurable(lab, home, backend):
    lab.admin.update_settings(changes={"daily_generation_limit": 2})
    lab.videos.generate(as_user="maya", prompt="a pink box moves up", seed=1)
    lab.videos.generate(as_user="maya", prompt="a pink box moves down", seed=2)
    files = _media_files(home)
    with pytest.raises(LimitExceeded, match="2/2"):
        lab.videos.generate(as_user="maya", prompt="a pink box moves left", seed=3)
    with pytest.raises(LimitExceeded):
        lab.videos.submit(as_user="maya", prompt="a pink box moves left", seed=3)
    assert _media_files(home) == files and backend.calls == 2
    assert lab.videos.limits(as_user="maya") == {"daily_limit": 2, "used_today": 2, "left_today": 0}
    lab.videos.generate(as_user="theo", prompt="a pink box moves left", seed=3)  # per user
    lab.admin.update_settings(changes={"daily_generation_limit": 6})
    lab.videos.generate(as_user="maya", prompt="a pink box moves left", seed=3)


@pytest.mark.parametrize(
    ("prompt", "code"),
    [("Mickey Mouse dancing", "rights_unregistered"), ("a graphic beheading with blood", "graphic_violence")],
)
def test_policy_refusal_renders_nothing(lab, services, home, backend, prompt, code):
    with pytest.raises(PolicyViolation) as refused:
        lab.videos.generate(as_user="maya", prompt=prompt)
    assert code in [r["code"] for r in refused.value.reasons]
    assert backend.calls == 0 and _media_files(home) == [] and _events(services, "generate") == []


def test_unknown_cameo_is_refused(lab, backend):
    with pytest.raises(PolicyViolation):
        lab.videos.generate(as_user="maya", prompt="surfing at dawn", cameos=["nobody_here"])
    assert backend.calls == 0


@pytest.mark.parametrize("stage", ["model", "encode", "sign", "insert"])
def test_failure_at_any_stage_leaves_no_row_and_no_file(lab, services, home, monkeypatch, stage):
    disc = DiscBackend(fail_at="model" if stage == "model" else None)
    monkeypatch.setattr(executors, "load_backend", lambda name, model=None, **options: disc)
    if stage == "encode":

        def broken_encode(frames, *args, **kwargs):
            next(iter(frames))
            raise KeyboardInterrupt  # an interrupt half-way through the frames

        monkeypatch.setattr(pipeline.encode, "encode_mp4", broken_encode)
    if stage == "sign":
        monkeypatch.setattr(
            pipeline.provenance, "sign_mp4", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full"))
        )
    if stage == "insert":
        service = services.videos
        monkeypatch.setattr(service.records, "insert", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("db gone")))
    with pytest.raises((RuntimeError, KeyboardInterrupt, OSError)):
        lab.videos.generate(as_user="maya", prompt="a red ball moves right", seed=5)
    assert _media_files(home) == []
    assert lab.videos.list_mine(as_user="maya") == [] and _events(services, "generate") == []


def test_queue_reports_progress_and_result(lab, backend):
    job = lab.videos.submit(as_user="maya", prompt="an orange triangle moves left", seed=9, draft=True)
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = lab.videos.job(as_user="maya", job_id=job["job_id"])
        seen.add(state["stage"])
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert state["state"] == "done", state
    assert state["progress"] == 1.0 and state["result"]["status"] == "draft"
    assert len(seen) >= 2
    with pytest.raises(NotFound):
        lab.videos.job(as_user="theo", job_id=job["job_id"])
    assert [j["job_id"] for j in lab.videos.jobs(as_user="maya")] == [job["job_id"]]


def test_wait_for_job_raises_the_jobs_error(lab, monkeypatch):
    disc = DiscBackend(fail_at="model")
    monkeypatch.setattr(executors, "load_backend", lambda name, model=None, **options: disc)
    job = lab.videos.submit(as_user="maya", prompt="a red ball moves right", seed=1)
    with pytest.raises(Exception, match="simulated model crash"):
        wait_for_job(lab, job, as_user="maya", bar="none", poll_s=0.05)


def test_progress_bars_show_percent_or_clips_and_time_not_a_rate(lab, backend, capsys):
    """A job's bar moves in percent and a sweep's in clips; tqdm's default rate ("12.3%/s") means nothing."""
    from sora_lab.client import wait_for_sweep

    job = lab.videos.submit(as_user="maya", prompt="a red ball moves right", seed=1, seconds=1)
    wait_for_job(lab, job, as_user="maya", bar="tqdm", poll_s=0.05)
    sweep = lab.videos.sweep(as_user="maya", prompts=["a red ball moves left"], seeds=[1, 2], seconds=1)
    wait_for_sweep(lab, sweep, as_user="maya", bar="tqdm", poll_s=0.05)
    bars = capsys.readouterr().err
    assert "100%|" in bars and "2/2 clips|" in bars, bars
    assert "/s]" not in bars and "it/s" not in bars and "%/s" not in bars, bars


def test_bad_arguments_name_the_field(lab, backend):
    from sora_lab.core.errors import InputError

    for kwargs, field in [
        ({"prompt": "  "}, "prompt"),
        ({"prompt": "x", "seconds": 0.1}, "seconds"),
        ({"prompt": "x", "seed": -1}, "seed"),
        ({"prompt": "x", "backend": "huge"}, "backend"),
    ]:
        with pytest.raises(InputError, match=field):
            lab.videos.generate(as_user="maya", **kwargs)


# --- the shipped tiny model, end to end (slow: loads the model and renders a real 10 s clip) ---


@pytest.mark.slow
def test_tiny_backend_cli_generate_verify_and_remix(tmp_path):
    import subprocess
    import sys

    env = {**__import__("os").environ, "SORA_LAB_HOME": str(tmp_path / "lab")}

    def cli(*args):
        command = [sys.executable, "-c", "from sora_lab.cli.main import app; app()", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)

    assert cli("init", "--json").returncode == 0
    assert cli("seed-demo", "--json").returncode == 0
    out = tmp_path / "clip.mp4"
    made = cli("generate", "a red ball bounces on a navy background", "--as", "maya", "--seed", "3", "--draft",
               "--out", str(out), "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    result = json.loads(made.stdout)
    assert {"video_id", "path", "duration", "backend", "seed", "timings"} <= set(result)
    assert result["backend"] == "tiny" and result["seed"] == 3 and result["status"] == "draft"
    assert result["read_as"] is None  # training words: sampled without the prompt reader
    assert out.read_bytes() == open(result["path"], "rb").read()
    info = encode.probe(out)
    assert info.n_frames == 240 and abs(info.duration - 10) <= 1 / 24 and info.faststart
    checked = json.loads(cli("verify", str(out), "--json").stdout)
    assert checked["c2pa_valid"] and checked["creator"] == "@maya" and checked["generator"].startswith("sora-lab/tiny")
    remixed = cli("remix", result["video_id"], "a blue ball bounces on a navy background", "--as", "maya", "--json")
    assert remixed.returncode == 0, remixed.stderr
    assert json.loads(remixed.stdout)["parent_id"] == result["video_id"]
    refused = cli("generate", "Mickey Mouse dancing", "--as", "maya", "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"]["code"] == "policy_violation"
    steered = cli("generate", "a crimson orb drifting to the right", "--as", "maya", "--seed", "4")
    assert steered.returncode == 0, steered.stderr
    assert "read as: a red " in steered.stdout and "never trained on" in steered.stdout


@pytest.mark.slow
def test_generate_through_the_server_and_fetch_the_media(server):
    import httpx

    from sora_lab.lab import Lab

    with Lab.connect(server.url, home=server.home) as lab:
        job = lab.videos.submit(as_user="theo", prompt="a green square moves right on a black background", seed=2)
        result = wait_for_job(lab, job, as_user="theo", bar="none")
        assert result["status"] == "published"
        with pytest.raises(PolicyViolation):
            lab.videos.generate(as_user="theo", prompt="Mickey Mouse dancing")
    response = httpx.get(f"{server.url}/media/{result['media_path']}", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    assert hashlib.sha256(response.content).hexdigest().startswith(result["video_id"])
    poster = httpx.get(f"{server.url}/media/{result['poster_path']}", timeout=30)
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"


def test_pretrained_backend_through_the_lab(lab, tmp_path):
    from test_pretrained import build_ltx

    from sora_lab.core.errors import InputError

    folder = build_ltx(tmp_path / "ltx")
    options = {"steps": 2, "width": 32, "height": 64, "max_frames": 9}
    video = lab.videos.generate(
        as_user="maya", prompt="a dog runs in park", seconds=1, seed=1, backend="pretrained", model=str(folder),
        options=options,
    )  # fmt: skip
    assert video["backend"] == "pretrained" and video["model"] == "LTXPipeline:ltx" and video["duration"] == 1.0
    assert lab.videos.verify(video_id=video["video_id"])["generator"] == "LTXPipeline:ltx"
    with pytest.raises(InputError, match="unknown"):
        lab.videos.generate(as_user="maya", prompt="x", backend="pretrained", model=str(folder), options={"foo": 1})
    with pytest.raises(InputError, match="unknown width for the tiny backend"):
        lab.videos.generate(as_user="maya", prompt="x", options={"width": 32})
    with pytest.raises(InputError, match="options.steps"):
        lab.videos.generate(as_user="maya", prompt="x", options={"steps": 0})
    stored, jobs = len(lab.videos.list_mine(as_user="maya")), len(lab.videos.jobs(as_user="maya"))
    with pytest.raises(InputError, match="options.guidance is a CFG scale"):
        lab.videos.submit(as_user="maya", prompt="x", backend="pretrained", model=str(folder),
                          options={"guidance": -3})
    with pytest.raises(InputError, match="options.width must be a multiple of 16"):
        lab.videos.generate(as_user="maya", prompt="x", backend="pretrained", model=str(folder),
                            options={"width": 33})
    assert len(lab.videos.list_mine(as_user="maya")) == stored and len(lab.videos.jobs(as_user="maya")) == jobs


def _character_cameo(lab, owner: str, handle: str, permission: str) -> dict:
    """A character cameo drawn here (a purple square on white, no face), as `owner/handle`."""
    import numpy as np

    from sora_lab.consent.faces import encode_png

    image = np.full((64, 64, 3), 255, np.uint8)
    image[16:48, 16:48] = (150, 55, 205)
    return lab.cameos.create(
        as_user=owner, handle=handle, image=encode_png(image), kind="character", permission=permission
    )


def test_cameo_reference_conditions_the_clip_and_consent_is_rechecked_on_publish(lab, services, backend):
    cameo = _character_cameo(lab, "maya", "purple_pal", "everyone")
    draft = lab.videos.generate(as_user="theo", prompt="my friend moves right", cameos=["maya/purple_pal"], draft=True)
    assert backend.last_reference is not None and backend.last_reference.shape[2] == 3
    assert draft["cameo_ids"] == [cameo["cameo_id"]]
    with services.store.read() as cur:
        linked = cur.execute("SELECT cameo_id FROM video_cameos WHERE video_id = ?", [draft["video_id"]]).fetchall()
    assert linked == [(cameo["cameo_id"],)]
    # an @mention in the prompt is a cameo too
    mentioned = lab.videos.generate(as_user="theo", prompt="@maya/purple_pal moves up", draft=True)
    assert mentioned["cameo_ids"] == [cameo["cameo_id"]]
    # the owner withdraws permission: the draft can no longer be published, and no new clip can use it
    lab.cameos.set_permission(as_user="maya", handle="maya/purple_pal", permission="only_me")
    with pytest.raises(PolicyViolation):
        lab.videos.publish(as_user="theo", video_id=draft["video_id"])
    calls = backend.calls
    with pytest.raises(PolicyViolation):
        lab.videos.generate(as_user="theo", prompt="my friend moves left", cameos=["maya/purple_pal"])
    assert backend.calls == calls


def test_consent_withdrawn_during_rendering_leaves_nothing(lab, services, home, monkeypatch):
    """Permission changes while the clip renders: the final consent check refuses and everything is undone."""
    from sora_lab.core.errors import ConsentError

    _character_cameo(lab, "maya", "purple_pal", "everyone")
    disc = DiscBackend()
    original = disc.render

    def render_then_revoke(*args, **kwargs):
        clip = original(*args, **kwargs)
        lab.cameos.set_permission(as_user="maya", handle="maya/purple_pal", permission="only_me")
        return clip

    disc.render = render_then_revoke
    monkeypatch.setattr(executors, "load_backend", lambda name, model=None, **options: disc)
    with pytest.raises(ConsentError):
        lab.videos.generate(as_user="theo", prompt="my friend moves right", cameos=["maya/purple_pal"])
    assert [f for f in _media_files(home) if not f.startswith("cameos/")] == []
    assert lab.videos.list_mine(as_user="theo") == [] and _events(services, "generate") == []


def test_parallel_requests_cannot_overshoot_the_daily_limit(lab, backend):
    import threading

    lab.admin.update_settings(changes={"daily_generation_limit": 1})
    outcomes = []

    def attempt(seed):
        try:
            lab.videos.generate(as_user="maya", prompt="a red ball moves right", seed=seed)
            outcomes.append("ok")
        except LimitExceeded:
            outcomes.append("limited")

    threads = [threading.Thread(target=attempt, args=(s,)) for s in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["limited", "limited", "ok"] and backend.calls == 1
