"""The tiny model: backend contract, seeds, references, training resume and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sora_lab.cli.model import model_app
from sora_lab.core.errors import InputError
from sora_lab.generate.base import Clip
from sora_lab.generate.tiny.backend import WEIGHTS_DIR, TinyBackend
from sora_lab.generate.tiny.model import TinyConfig, load_weights
from sora_lab.generate.tiny.train import TrainSettings, make_batch, train
from sora_lab.generate.tiny.world import make_face_sprite

MICRO = dict(num_layers=1, num_heads=2, head_dim=16, ffn_dim=32, freq_dim=32)


@pytest.fixture(scope="module")
def backend() -> TinyBackend:
    return TinyBackend(device="cpu", steps=2, threads=1)  # 1 thread: fast and fair on a shared CPU


def test_shipped_weights_load():
    model, meta = load_weights(WEIGHTS_DIR)
    assert meta["trained_steps"] > 0
    assert TinyConfig.from_dict(meta["config"]).height == 36


def test_render_returns_a_vertical_clip_spanning_the_seconds(backend):
    clip = backend.render("a red circle moves right on a black background", seconds=10, seed=1)
    assert isinstance(clip, Clip)
    assert clip.frames.shape == (16, 36, 20, 3) and clip.frames.dtype == np.uint8
    assert clip.seconds == pytest.approx(10.0)
    assert clip.meta["model_id"] == backend.model_id and backend.name == "tiny"


def test_same_seed_same_clip_other_seed_other_clip(backend):
    a = backend.render("a blue star spins", seconds=10, seed=7).frames
    b = backend.render("a blue star spins", seconds=10, seed=7).frames
    c = backend.render("a blue star spins", seconds=10, seed=8).frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_clip_is_the_same_alone_or_in_a_batch(backend):
    """Eval and the GPU benchmark render in batches; a batch mixing steered, plain and cameo prompts must give each
    clip what it gets alone (up to float rounding of batched matrix products)."""
    prompts = ["a crimson ball drifting to the right", "a blue star spins", "the person moves left"]
    references = [None, None, make_face_sprite(1)]
    batch = backend.render_batch(prompts, seeds=[4, 5, 6], references=references)
    for i, (prompt, reference) in enumerate(zip(prompts, references, strict=True)):
        alone = backend.render(prompt, seconds=10, seed=4 + i, reference=reference).frames
        difference = np.abs(batch[i].astype(int) - alone.astype(int))
        assert difference.max() <= 2 and difference.mean() < 0.05, (prompt, difference.max(), difference.mean())


def test_the_batched_benchmark_runs_the_gpu_code_path_on_the_cpu():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "tiny_model.py"
    spec = importlib.util.spec_from_file_location("tiny_model_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = bench.clips_per_second("cpu", batch=2, repeats=1, threads=1)
    assert row["batch"] == 2 and row["device"] == "cpu, 1 thread" and 0 < row["clips_per_second"] < 1000


def test_reference_changes_the_clip_and_bad_reference_is_refused(backend):
    prompt = "the person moves left on a gray background"
    a = backend.render(prompt, seconds=10, seed=3, reference=make_face_sprite(1)).frames
    b = backend.render(prompt, seconds=10, seed=3, reference=make_face_sprite(2)).frames
    c = backend.render(prompt, seconds=10, seed=3).frames
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(InputError, match="reference"):
        backend.render(prompt, seconds=10, seed=3, reference=np.zeros((8, 8), np.uint8))


def test_progress_is_reported_and_bad_input_refused(backend):
    seen = []
    backend.render("a pink square grows", seconds=5, seed=0, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    with pytest.raises(InputError, match="seconds"):
        backend.render("a pink square grows", seconds=0, seed=0)
    with pytest.raises(InputError, match="prompt"):
        backend.render("  ", seconds=5, seed=0)


def test_batches_are_a_function_of_seed_and_step():
    s = TrainSettings(seed=5, batch_size=3, model=MICRO)
    a, b = make_batch(s, 2), make_batch(s, 2)
    assert a.captions == b.captions and torch.equal(a.clean, b.clean)
    assert torch.equal(a.noise, b.noise) and torch.equal(a.sigma, b.sigma) and torch.equal(a.keep, b.keep)
    assert make_batch(s, 3).captions != a.captions


def test_resume_gives_the_same_weights_as_one_run(tmp_path):
    settings = TrainSettings(seed=1, batch_size=2, model=MICRO, warmup=2)
    train(tmp_path / "straight", steps=3, settings=settings, checkpoint_every=10, threads=1)
    train(tmp_path / "split", steps=1, settings=settings, checkpoint_every=10, threads=1)
    summary = train(tmp_path / "split", steps=3, settings=None, checkpoint_every=10, threads=1)
    assert summary["step"] == 3
    one, _ = load_weights(tmp_path / "straight" / "weights")
    two, meta = load_weights(tmp_path / "split" / "weights")
    assert meta["trained_steps"] == 3
    for (name, p), (_, q) in zip(one.state_dict().items(), two.state_dict().items(), strict=True):
        assert torch.equal(p, q), name


def _same_weights(a, b):
    one, _ = load_weights(a)
    two, _ = load_weights(b)
    return all(torch.equal(p, q) for p, q in zip(one.state_dict().values(), two.state_dict().values(), strict=True))


def test_worker_processes_render_the_same_batches(tmp_path):
    settings = TrainSettings(seed=2, batch_size=2, model=MICRO, warmup=2)
    train(tmp_path / "inline", steps=3, settings=settings, checkpoint_every=10, threads=1)
    train(tmp_path / "workers", steps=3, settings=settings, checkpoint_every=10, threads=1, workers=2)
    assert _same_weights(tmp_path / "inline" / "weights", tmp_path / "workers" / "weights")


def test_resume_can_change_batch_and_lr_and_records_the_phases(tmp_path):
    settings = TrainSettings(seed=1, batch_size=2, model=MICRO, warmup=2)
    train(tmp_path / "run", steps=2, settings=settings, checkpoint_every=10, threads=1)
    with pytest.raises(InputError, match="seed"):
        train(tmp_path / "run", steps=4, checkpoint_every=10, threads=1, overrides={"seed": 3})
    train(tmp_path / "run", steps=4, checkpoint_every=10, threads=1,
          overrides={"batch_size": 3, "lr": 5e-4, "cooldown": 2, "p_extra_wording": 0.25})
    _, meta = load_weights(tmp_path / "run" / "weights")
    assert [(p["from_step"], p["batch_size"], p["lr"], p["cooldown"], p["p_extra_wording"])
            for p in meta["phases"]] == [(0, 2, 1e-3, 0, 0.5), (2, 3, 5e-4, 2, 0.25)]
    assert meta["settings"]["batch_size"] == 3 and meta["trained_steps"] == 4


def test_init_from_weights_continues_their_network_steps_and_history(tmp_path):
    from sora_lab.generate.tiny.card import _phase_rows
    from sora_lab.generate.tiny.train import _lr

    settings = TrainSettings(seed=1, batch_size=2, model=MICRO, warmup=2)
    train(tmp_path / "base", steps=2, settings=settings, checkpoint_every=10, threads=1)
    base, base_meta = load_weights(tmp_path / "base" / "weights")
    summary = train(tmp_path / "tune", steps=3, checkpoint_every=10, threads=1, init_from=tmp_path / "base" / "weights",
                    overrides={"lr": 5e-4})
    assert summary["step"] == 3
    tuned, meta = load_weights(tmp_path / "tune" / "weights")
    assert meta["config"] == base_meta["config"] and meta["trained_steps"] == 3
    assert meta["history"][:len(base_meta["history"])] == base_meta["history"]
    assert [(p["from_step"], p["lr"], p.get("init_from")) for p in meta["phases"]] == [
        (0, 1e-3, None), (2, 5e-4, "weights")]
    assert "fine-tuned from the weights folder `weights/` with a fresh optimizer" in _phase_rows(meta["phases"], 3)[1]
    changed = [not torch.equal(p, q) for p, q in zip(base.state_dict().values(), tuned.state_dict().values(),
                                                         strict=True)]
    assert any(changed)  # one step of training moved the weights
    # the fresh optimizer warms up from where the weights left off, not from step 0
    assert _lr(TrainSettings(lr=1e-3, warmup=100), 2, 1000, warm_from=2) == pytest.approx(1e-5)
    # a resume of the fine-tune keeps its phases and does not start another
    train(tmp_path / "tune", steps=4, checkpoint_every=10, threads=1)
    _, resumed = load_weights(tmp_path / "tune" / "weights")
    assert resumed["phases"] == meta["phases"] and resumed["trained_steps"] == 4


def test_init_from_refuses_what_it_cannot_continue(tmp_path):
    settings = TrainSettings(seed=1, batch_size=2, model=MICRO, warmup=2)
    train(tmp_path / "base", steps=2, settings=settings, checkpoint_every=10, threads=1)
    weights = tmp_path / "base" / "weights"
    with pytest.raises(InputError, match="already holds one"):
        train(tmp_path / "base", steps=4, init_from=weights)
    with pytest.raises(InputError, match="already have 2; give more than 2"):
        train(tmp_path / "new", steps=2, init_from=weights)
    with pytest.raises(InputError, match="--init-from: no tiny model in"):
        train(tmp_path / "new", steps=4, init_from=tmp_path / "missing")
    assert not (tmp_path / "new").exists()  # a refused run leaves no folder behind
    result = CliRunner().invoke(model_app, ["train", "--run-dir", str(tmp_path / "cli"), "--steps", "4",
                                            "--init-from", str(weights), "--small"])
    assert result.exit_code == 1 and "--network pick a new network" in result.stderr


def test_a_run_from_noise_can_build_another_network_and_keeps_it(tmp_path):
    from sora_lab.generate.tiny.backend import TinyBackend

    run = tmp_path / "run"
    args = ["train", "--run-dir", str(run), "--small", "--network", "patch_size=1,4,4", "--network", "num_layers=1",
            "--batch-size", "2", "--threads", "1", "--json"]
    runner = CliRunner()
    first = runner.invoke(model_app, [*args, "--steps", "1"])
    assert first.exit_code == 0, first.output
    _, meta = load_weights(run / "weights")
    assert meta["config"]["patch_size"] == [1, 4, 4] and meta["config"]["num_layers"] == 1
    assert meta["config"]["head_dim"] == 32  # --small's, where no change names it
    again = runner.invoke(model_app, [*args, "--steps", "2"])  # the same request resumes
    assert again.exit_code == 0 and json.loads(again.stdout)["step"] == 2, again.output
    before = (run / "checkpoint.pt").read_bytes()
    other = runner.invoke(model_app, ["train", "--run-dir", str(run), "--steps", "3", "--small"])
    assert other.exit_code == 1 and "already trains another network" in other.stderr
    assert (run / "checkpoint.pt").read_bytes() == before  # a refused resume leaves the run as it was
    clip = TinyBackend(weights=run / "weights", device="cpu", steps=2, threads=1).render(
        "a red circle moves right", seconds=2, seed=0)
    assert clip.frames.shape == (16, 36, 20, 3)  # one frame per token still samples a whole clip


@pytest.mark.parametrize("change, message", [
    ("patch_size=3,4,4", "does not divide the clip's 16 frames"),
    ("patch_size=1,4", "three positive whole numbers"),
    ("head_dim=33", "must be even and at least 6"),
    ("num_layers=0", "positive whole number"),
    ("prediction=noise", "x0 (the clean clip) or velocity"),
    ("width=64", "unknown key 'width'; the keys are patch_size"),
    ("patch_size", "write KEY=VALUE"),
])
def test_a_network_the_transformer_cannot_take_is_refused_before_training(tmp_path, change, message):
    result = CliRunner().invoke(model_app, ["train", "--run-dir", str(tmp_path / "run"), "--network", change])
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert not (tmp_path / "run").exists()


def test_a_time_limit_stops_with_a_checkpoint_and_the_run_resumes_on_schedule(tmp_path):
    settings = TrainSettings(seed=1, batch_size=2, model=MICRO, warmup=2, cooldown=2)
    train(tmp_path / "straight", steps=3, settings=settings, checkpoint_every=10, threads=1)
    stopped = train(tmp_path / "timed", steps=3, settings=settings, checkpoint_every=10, threads=1,
                    time_limit_s=1e-9)
    assert stopped["stopped_at_time_limit"] and stopped["step"] == 1
    assert load_weights(tmp_path / "timed" / "weights")[1]["trained_steps"] == 1
    again = train(tmp_path / "timed", steps=3, checkpoint_every=10, threads=1, time_limit_s=1e-9)
    assert again["step"] == 2 and again["stopped_at_time_limit"]
    finished = train(tmp_path / "timed", steps=3, checkpoint_every=10, threads=1, time_limit_s=1e-9)
    assert finished["step"] == 3 and not finished["stopped_at_time_limit"]  # the last step ends the run, not the limit
    assert _same_weights(tmp_path / "straight" / "weights", tmp_path / "timed" / "weights")
    with pytest.raises(InputError, match="time limit must be positive"):
        train(tmp_path / "timed", steps=4, threads=1, time_limit_s=0)


def test_cli_train_resumes_and_its_progress_bar_ends_at_the_total(tmp_path):
    args = ["train", "--run-dir", str(tmp_path / "run"), "--small", "--batch-size", "2", "--json"]
    runner = CliRunner()
    first = runner.invoke(model_app, [*args, "--steps", "2"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(model_app, [*args, "--steps", "4"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["step"] == 4
    final = second.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert "4/4" in final and "loss=" in final, final


def test_a_checkpoint_from_before_extra_wording_resumes_as_core_wording_only(tmp_path):
    settings = TrainSettings(seed=1, batch_size=2, model=MICRO, warmup=2)
    train(tmp_path / "run", steps=2, settings=settings, checkpoint_every=10, threads=1)
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    del state["settings"]["p_extra_wording"]
    for phase in state["phases"]:
        del phase["p_extra_wording"]
    torch.save(state, path)
    train(tmp_path / "run", steps=3, checkpoint_every=10, threads=1)
    _, meta = load_weights(tmp_path / "run" / "weights")
    assert [(p["from_step"], p["p_extra_wording"]) for p in meta["phases"]] == [(0, 0.0)]
    assert meta["settings"]["p_extra_wording"] == 0.0


def test_cooldown_decays_the_learning_rate_to_a_tenth():
    from sora_lab.generate.tiny.train import _lr

    s = TrainSettings(lr=1.0, warmup=1, cooldown=10)
    assert _lr(s, 50, 100) == 1.0
    assert _lr(s, 90, 100) == pytest.approx(1.0)
    assert _lr(s, 99, 100) == pytest.approx(0.19)
    assert min(_lr(s, k, 100) for k in range(100)) >= 0.1


def test_cli_info_and_eval_json(tmp_path):
    runner = CliRunner()
    result = runner.invoke(model_app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["name"] == "tiny" and info["parameters"] > 100_000

    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "a red ball moves right", "expect": {"color": "red", "motion": "right"}})
                       + "\n" + json.dumps({"prompt": "the person rises", "expect": {"motion": "up"},
                                            "reference_seed": 4}) + "\n")
    args = ["eval", "--prompts", str(prompts), "--steps", "2", "--shift", "2", "--threads", "1", "--json", "--items"]
    result = runner.invoke(model_app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 2 and 0.0 <= report["adherence"] <= 1.0 and report["shift"] == 2.0
    assert set(report["per_attribute"]) == {"color", "motion"}
    assert report["reference"]["n"] == 1 and len(report["items"]) == 2
    lo, hi = report["adherence_ci95"]
    assert 0.0 <= lo <= report["adherence"] <= hi <= 1.0 and hi - lo > 0.3  # two prompts say little

    result = runner.invoke(model_app, args[:-2] + ["--samples", "2"])
    assert result.exit_code == 0, result.output
    assert "2 prompts x 2 draws" in result.stdout and "95% interval" in result.stdout
    assert "right in every draw" in result.stdout
    result = runner.invoke(model_app, args + ["--samples", "0"])
    assert result.exit_code == 1 and "--samples must be at least 1" in result.stdout


def test_cli_fails_with_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(model_app, ["eval", "--prompts", str(tmp_path / "missing.jsonl"), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "invalid_input"
    result = runner.invoke(model_app, ["info", "--weights", str(tmp_path), "--json"])
    assert result.exit_code == 1 and "no tiny model" in result.stdout
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "a red ball", "expect": {"color": "red"}}) + "\n")
    result = runner.invoke(model_app, ["eval", "--prompts", str(prompts), "--guidance", "-2"])
    assert result.exit_code == 1 and "guidance is a CFG scale and must be 0 or more" in result.stderr
    result = runner.invoke(model_app, ["eval", "--prompts", str(prompts), "--shift", "0"])
    assert result.exit_code == 1 and "shift stretches the noise schedule" in result.stderr
    result = runner.invoke(model_app, ["average", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                                       str(tmp_path / "soup"), "--guidance", "-1"])
    assert result.exit_code == 1 and "guidance is a CFG scale" in result.stderr
    assert not (tmp_path / "soup").exists()


@pytest.mark.parametrize("option, value, message", [
    ("guidance", -1.0, "guidance is a CFG scale and must be 0 or more"),
    ("guidance", math.nan, "guidance is a CFG scale"),
    ("shift", 0.0, "shift stretches the noise schedule and must be a positive number"),
    ("shift", math.inf, "shift stretches"),
])
def test_sampling_settings_that_make_no_sense_are_refused(option, value, message):
    with pytest.raises(InputError, match=message):
        TinyBackend(device="cpu", **{option: value})


def test_a_request_s_sampling_options_reach_the_tiny_backend():
    """What a sweep's `options={"steps": [...]}` or a generate's `options={"guidance": 1.5}` asks for is used."""
    from sora_lab.generate.backends import load_backend

    backend = load_backend("tiny", steps=4, guidance=1.5, shift=2.0)
    assert (backend.steps, backend.guidance, backend.shift) == (4, 1.5, 2.0)
    assert load_backend("tiny").steps == TinyBackend(device="cpu").steps


@pytest.mark.gpu
def test_training_steps_on_the_gpu_with_workers(tmp_path):
    settings = TrainSettings(seed=3, batch_size=4, model=MICRO, warmup=2)
    summary = train(tmp_path / "gpu", steps=2, settings=settings, checkpoint_every=10, device="cuda", workers=2)
    _, meta = load_weights(tmp_path / "gpu" / "weights")
    assert summary["step"] == 2 and math.isfinite(summary["loss"])
    assert meta["phases"][-1]["device"] == "cuda"
