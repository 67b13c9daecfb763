"""Durable jobs, cancelling, recovery after a killed server, prompt sweeps, and renders on a local Ray cluster.

The embedded tests draw frames with tests/helpers/disc_world.DiscBackend; the restart and Ray tests run
the shipped tiny model in other processes (a server, Ray actors), as a person would.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import pytest
from helpers.disc_world import DiscBackend
from helpers.processes import ServerProcess

from sora_lab.cli.jobs import parse_seeds, parse_values
from sora_lab.core.errors import Conflict, InputError, LimitExceeded, NotFound
from sora_lab.core.home import load_credentials, media_dir
from sora_lab.lab import Lab
from sora_lab.services import Services
from sora_lab.videos import executors
from sora_lab.videos.queue import MAX_ATTEMPTS
from sora_lab.videos.requests import clean_request

PROMPT = "a red ball bounces on a navy background"


@pytest.fixture
def backend(monkeypatch):
    disc = DiscBackend()
    monkeypatch.setattr(executors, "load_backend", lambda name, model=None, **options: disc)
    return disc


def _request(seed: int = 1):
    return clean_request(prompt=PROMPT, seconds=2, seed=seed, cameos=None, backend="tiny", model=None, draft=True)


def _user_id(services, handle):
    return services.accounts.by_handle(handle).user_id


def test_a_job_outlives_its_process_and_a_dead_run_is_retried_once_then_failed(lab, services, home, backend):
    done = lab.generate(PROMPT, as_user="maya", seconds=2, seed=3, progress=False)
    maya = _user_id(services, "maya")
    queue = services.videos.queue
    first, second = queue._reserve(maya, [_request(1), _request(2)], state="running")  # as a killed server left them
    with services.store.write() as cur:
        cur.execute("UPDATE jobs SET attempts = ? WHERE job_id = ?", [MAX_ATTEMPTS, second])
    leftover = media_dir(home) / ".staging" / "dead" / ".unsigned-1.mp4"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"x" * 1000)
    services.close()

    reopened = Services.open(home)  # what a restarted server does first
    try:
        assert reopened.videos.recovered == {"requeued": [first], "failed": [second]}
        assert not leftover.exists()
        after = Lab(home, services=reopened)
        jobs = {j["job_id"]: j for j in after.videos.jobs(as_user="maya", all=True)}
        assert jobs[first]["state"] == "queued" and jobs[first]["attempts"] == 1
        assert jobs[second]["state"] == "failed" and jobs[second]["error"]["code"] == "server_stopped"
        assert "stopped during this job" in jobs[second]["error"]["message"]
        finished = [j for j in jobs.values() if j["state"] == "done"]
        assert [j["result"]["video_id"] for j in finished] == [done["video_id"]]
        with pytest.raises(NotFound):
            after.videos.job(as_user="theo", job_id=first)  # someone else's job is not found
        assert after.videos.jobs(as_user="theo", all=True) == []
        # the re-queued job runs once a server resumes the workers
        reopened.videos.resume()
        deadline = time.monotonic() + 60
        while after.videos.job(as_user="maya", job_id=first)["state"] != "done" and time.monotonic() < deadline:
            time.sleep(0.1)
        state = after.videos.job(as_user="maya", job_id=first)
        assert state["state"] == "done" and state["attempts"] == 2 and state["result"]["status"] == "draft"
    finally:
        reopened.close()


def test_cancel_a_queued_job_and_a_running_one(lab, services, home, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    disc = DiscBackend()
    original = disc.render

    def slow_render(*args, **kwargs):
        entered.set()
        release.wait(30)
        return original(*args, **kwargs)

    disc.render = slow_render
    monkeypatch.setattr(executors, "load_backend", lambda name, model=None, **options: disc)
    running = lab.videos.submit(as_user="maya", prompt=PROMPT, seconds=2, seed=1)
    assert entered.wait(30)
    waiting = lab.videos.submit(as_user="maya", prompt=PROMPT, seconds=2, seed=2)
    assert waiting["position"] == 1
    assert lab.videos.cancel_job(as_user="maya", job_id=waiting["job_id"])["state"] == "cancelled"
    with pytest.raises(NotFound):
        lab.videos.cancel_job(as_user="theo", job_id=running["job_id"])
    assert lab.videos.cancel_job(as_user="maya", job_id=running["job_id"])["state"] == "running"
    release.set()
    deadline = time.monotonic() + 60
    while lab.videos.job(as_user="maya", job_id=running["job_id"])["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert lab.videos.job(as_user="maya", job_id=running["job_id"])["state"] == "cancelled"
    with pytest.raises(Conflict, match="already ended"):
        lab.videos.cancel_job(as_user="maya", job_id=waiting["job_id"])
    assert lab.videos.list_mine(as_user="maya") == []
    assert not any(p.is_file() for p in media_dir(home).rglob("*"))


def test_an_embedded_waiter_is_woken_when_its_job_ends(lab, services, backend):
    """wait_for_end answers True once the job has ended (at once, not after its timeout) and False for a job
    that does not end in time; `lab.pause_on_job` is how wait_for_job pauses on an embedded lab."""
    queue = services.videos.queue
    assert queue.wait_for_end("no-such-job", 0.01) is False
    job = lab.videos.submit(as_user="maya", prompt=PROMPT, seconds=2, seed=4, draft=True)
    assert queue.wait_for_end(job["job_id"], 120) is True
    assert lab.videos.job(as_user="maya", job_id=job["job_id"])["state"] == "done"
    started = time.monotonic()
    lab.pause_on_job(job["job_id"], 60)  # already ended: returns at once
    assert time.monotonic() - started < 30


def test_a_two_by_two_sweep_makes_four_drafts_with_their_figures(lab, backend):
    result = lab.sweep([PROMPT, "a green square moves left on a black background"], as_user="maya", seeds=[0, 1],
                       seconds=2, options={"steps": [4]}, progress=False, order_by="wall_s")
    cells = result["cells"]
    assert len(cells) == 4 and result["done"] == 4 and result["pending"] == 0
    assert sorted((c["prompt"][:5], c["seed"]) for c in cells) == [("a gre", 0), ("a gre", 1), ("a red", 0),
                                                                    ("a red", 1)]
    assert all(c["settings"] == {"steps": 4} and c["wall_s"] > 0 and c["color"] for c in cells)
    assert [c["wall_s"] for c in cells] == sorted(c["wall_s"] for c in cells)
    videos = lab.videos.list_mine(as_user="maya", status="draft")
    assert sorted(v["video_id"] for v in videos) == sorted(c["video_id"] for c in cells)
    assert {j["sweep_id"] for j in lab.videos.jobs(as_user="maya")} == {result["sweep_id"]}
    with pytest.raises(NotFound):
        lab.videos.sweep_result(as_user="theo", sweep_id=result["sweep_id"])


def test_sweep_inputs_are_checked_before_anything_is_queued(lab, backend):
    for kwargs, field in [({"prompts": [], "seeds": [0]}, "prompts"), ({"prompts": ["x"], "seeds": []}, "seeds"),
                          ({"prompts": ["x"], "seeds": [0], "options": {"steps": 8}}, "options.steps"),
                          ({"prompts": ["x"] * 9, "seeds": list(range(9))}, "81 cells"),
                          ({"prompts": ["x"], "seeds": [0], "options": {"steps": [0]}}, "options.steps"),
                          ({"prompts": ["x"], "seeds": [0], "options": {"width": [8]}}, "unknown width")]:
        with pytest.raises(InputError, match=field):
            lab.videos.sweep(as_user="maya", **kwargs)
    lab.admin.update_settings(changes={"daily_generation_limit": 3})
    with pytest.raises(LimitExceeded, match="4 more"):
        lab.videos.sweep(as_user="maya", prompts=["x", "y"], seeds=[0, 1])
    assert lab.videos.jobs(as_user="maya", all=True) == []
    assert parse_seeds("0-3") == [0, 1, 2, 3] and parse_seeds("1,5,7-8") == [1, 5, 7, 8]
    assert parse_values(["steps=8,16", "guidance=3,5.5"]) == {"steps": [8, 16], "guidance": [3, 5.5]}
    with pytest.raises(InputError, match="--seeds"):
        parse_seeds("a-b")


def test_sigkill_mid_render_then_restart_reports_the_job_and_leaves_no_staging(seeded_home):
    """The issue's restart test: submit, SIGKILL the server while it renders, restart, the job is re-run."""
    server = ServerProcess(seeded_home).start()
    token = load_credentials(seeded_home)["maya"]
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{server.url}/api/v1"
    try:
        job = httpx.post(f"{api}/jobs", json={"prompt": PROMPT, "seconds": 2, "seed": 5}, headers=headers,
                         timeout=30).json()
        deadline = time.monotonic() + 60
        while (state := httpx.get(f"{api}/jobs/{job['job_id']}", headers=headers, timeout=10).json())["state"] \
                == "queued":
            assert time.monotonic() < deadline, state
            time.sleep(0.02)
        assert state["state"] == "running", state
        server.stop(signal.SIGKILL)

        server = ServerProcess(seeded_home).start()
        api = f"{server.url}/api/v1"
        with Lab.connect(server.url, home=seeded_home) as lab:
            from sora_lab.client import wait_for_job

            result = wait_for_job(lab, job, as_user="maya", bar="none", poll_s=0.1)
            after = lab.videos.job(as_user="maya", job_id=job["job_id"])
        assert after["state"] == "done" and after["attempts"] == 2 and result["video_id"]
        assert result["timings"]["model"] > 0 and result["sound_events"] >= 0  # over HTTP as embedded: what it took
        assert not (media_dir(seeded_home) / ".staging").exists() or not any(
            (media_dir(seeded_home) / ".staging").rglob("*.*"))
    finally:
        server.stop()


@pytest.fixture
def local_ray():
    ray = pytest.importorskip("ray")
    executor = executors.RayExecutor("local", num_cpus=2, actors=1)
    yield executor
    executor.close()
    ray.shutdown()


def test_a_ray_render_is_the_clip_a_local_render_makes(local_ray, tmp_path):
    """Rendered by a Ray actor (its own process, 1 CPU) and here with the same one thread: the same bytes."""
    import torch

    spec = executors.RenderSpec(backend="tiny", model=None, options={"steps": 4}, prompt=PROMPT, seconds=2, seed=3,
                                creator="maya", mark_secret=b"s" * 32, mark_key=4242, measure=True)
    seen = []
    remote = local_ray.render(spec, tmp_path / "ray", lambda stage, fraction: seen.append(stage), 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the actor's share; float sums with 2 threads differ in the last bits
    try:
        here = executors.ThreadExecutor().render(spec, tmp_path / "here", lambda stage, fraction: None)
    finally:
        torch.set_num_threads(threads)
    assert remote.mp4_path.parent == tmp_path / "ray" and remote.mp4_path.read_bytes() == here.mp4_path.read_bytes()
    assert remote.poster_path.read_bytes() == here.poster_path.read_bytes()
    assert remote.reading == here.reading and remote.reading["color"] == "red"
    assert json.dumps(remote.clip_meta, sort_keys=True) == json.dumps(here.clip_meta, sort_keys=True)
    assert seen[0] == "model"

    # a killed actor fails its render as WorkerLost (the queue then retries or fails the job); Ray restarts it
    import ray

    pid, outcome = ray.get(local_ray.actors[0].pid.remote()), []

    def render_then_note():
        try:
            outcome.append(local_ray.render(spec, tmp_path / "killed", lambda stage, fraction: None, 0))
        except executors.WorkerLost as exc:
            outcome.append(exc)

    worker = threading.Thread(target=render_then_note)
    worker.start()
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    worker.join(60)
    assert isinstance(outcome[0], executors.WorkerLost), outcome
    again = local_ray.render(spec, tmp_path / "again", lambda stage, fraction: None, 0)
    assert again.mp4_path.read_bytes() == here.mp4_path.read_bytes()
