"""Training loop for the tiny model: fresh world clips every step, flow matching, EMA, resume.

Determinism: the batch at step k is a pure function of (seed, k) — scenes, noise, timesteps
and condition dropout all come from generators seeded with (seed, k) — and the checkpoint
holds model, EMA, optimiser and step. So stopping and resuming gives the same weights as
one uninterrupted run (on the same device and thread count).

The world is rendered on the fly (a few ms per clip), so there is no dataset to store and
the model never sees the same clip twice. On a GPU the rendering is the bottleneck, so
`workers` renders batches in parallel processes (still one pure function of the step each);
a resumed run may change batch size, learning rate and cooldown, and every change is
recorded as a phase in the checkpoint and the exported weights.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from sora_lab.core.errors import InputError
from sora_lab.core.home import write_bytes_atomic
from sora_lab.generate.tiny.average import snapshot_dir
from sora_lab.generate.tiny.captions import sample_scene
from sora_lab.generate.tiny.conditioning import encode_text, reference_to_tensor
from sora_lab.generate.tiny.model import (
    REF_SIZE,
    TinyConfig,
    TinyVideoDenoiser,
    clip_to_tensor,
    load_weights,
    save_weights,
)
from sora_lab.generate.tiny.world import make_face_sprite, render_world_clip

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainSettings:
    """Hyper-parameters; stored in the checkpoint so a resume continues the same run."""

    seed: int = 0
    batch_size: int = 8
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    ema_decay: float = 0.995
    p_uncond: float = 0.1  # drop text and reference together: the CFG "unconditional" input
    p_two: float = 0.2
    p_reference: float = 0.15
    cooldown: int = 0  # the last `cooldown` steps before the target decay the learning rate linearly to 10%
    p_extra_wording: float = 0.5  # share of caption words drawn from the training-only synonyms
    model: dict = field(default_factory=lambda: asdict(TinyConfig()))


@dataclass
class Batch:
    clean: torch.Tensor  # (B,3,T,H,W) in [-1,1]
    captions: list[str]
    ref: torch.Tensor  # (B,3,8,8)
    ref_present: torch.Tensor  # (B,)
    noise: torch.Tensor  # (B,3,T,H,W) standard normal
    sigma: torch.Tensor  # (B,) noise level in (0, 1)
    keep: torch.Tensor  # (B,) 0 where text and reference are dropped (the CFG "unconditional" input)


OVERRIDABLE = ("batch_size", "lr", "cooldown", "p_extra_wording")


def make_batch(settings: TrainSettings, step: int) -> Batch:
    """The batch for `step`, noise included: a pure function of (seed, step)."""
    rng = np.random.default_rng([settings.seed, step])
    clips, captions, refs, present = [], [], [], []
    for _ in range(settings.batch_size):
        scene = sample_scene(rng, p_two=settings.p_two, p_reference=settings.p_reference,
                             p_extra=settings.p_extra_wording)
        sprite = make_face_sprite(scene.reference_seed) if scene.reference_seed is not None else None
        clip = render_world_clip(list(scene.objects), scene.background, reference=sprite,
                                 seed=int(rng.integers(1 << 30)))
        clips.append(clip_to_tensor(clip))
        captions.append(scene.caption)
        ref, flag = reference_to_tensor(sprite)
        refs.append(ref)
        present.append(flag)
    clean = torch.stack(clips)
    g = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
    b = clean.shape[0]
    noise = torch.randn(clean.shape, generator=g)
    # half logit-normal (most learning happens mid-way), half uniform (so the ends are not starved)
    s_logit = torch.sigmoid(torch.randn(b, generator=g))
    s_unif = torch.rand(b, generator=g)
    sigma = torch.where(torch.rand(b, generator=g) < 0.5, s_logit, s_unif)
    keep = (torch.rand(b, generator=g) >= settings.p_uncond).float()
    return Batch(clean, captions, torch.stack(refs), torch.tensor(present), noise, sigma, keep)


def flow_matching_loss(model: TinyVideoDenoiser, batch: Batch, text: torch.Tensor) -> torch.Tensor:
    """MSE between predicted and true velocity at the batch's noise level per clip.

    With x0-prediction the velocity is (x_t - x0_hat) / sigma, so the loss is the clean-clip error
    weighted by 1 / sigma^2; sigma is floored at 0.1 there to keep the weight (and gradients) bounded.
    """
    device = next(model.parameters()).device
    clean, noise = batch.clean.to(device), batch.noise.to(device)
    sigma, keep = batch.sigma.to(device), batch.keep.to(device)
    b = clean.shape[0]
    x_t = (1 - sigma.view(b, 1, 1, 1, 1)) * clean + sigma.view(b, 1, 1, 1, 1) * noise
    pred = model(x_t, sigma * 1000, text.to(device) * keep.view(b, 1, 1), batch.ref.to(device),
                 batch.ref_present.to(device) * keep)
    if model.config.prediction == "velocity":
        return torch.mean((pred - (noise - clean)) ** 2)
    weight = 1.0 / sigma.clamp(min=0.1).view(b, 1, 1, 1, 1) ** 2
    return torch.mean(weight * (pred - clean) ** 2)


def _lr(settings: TrainSettings, step: int, total: int, warm_from: int = 0) -> float:
    """Linear warm-up from step `warm_from` (0, or where a fine-tune's fresh optimizer started), then
    constant; over the last `cooldown` steps a linear decay to 10%."""
    lr = settings.lr * min(1.0, (step - warm_from + 1) / max(1, settings.warmup))
    if settings.cooldown > 0 and step >= total - settings.cooldown:
        left = (total - step) / settings.cooldown
        lr *= 0.1 + 0.9 * left
    return lr


class _StepBatches(torch.utils.data.Dataset):
    """Batches for steps start..end-1, so DataLoader workers can render them ahead, in order."""

    def __init__(self, settings: TrainSettings, start: int, end: int):
        self.settings, self.start, self.end = settings, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, i: int) -> Batch:
        return make_batch(self.settings, self.start + i)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def _batches(settings: TrainSettings, start: int, end: int, workers: int):
    if workers <= 0:
        return (make_batch(settings, step) for step in range(start, end))
    return torch.utils.data.DataLoader(_StepBatches(settings, start, end), batch_size=None, shuffle=False,
                                       num_workers=workers, prefetch_factor=4, worker_init_fn=_one_thread)


def _save_checkpoint(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes_atomic(path, buf.getvalue())


def train(run_dir: Path, *, steps: int, settings: TrainSettings | None = None, resume: bool = True,
          checkpoint_every: int = 200, export_dir: Path | None = None, threads: int | None = None,
          device: str = "cpu", workers: int = 0, overrides: dict | None = None, snapshot_every: int = 0,
          init_from: Path | None = None, network: dict | None = None, time_limit_s: float | None = None,
          on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train until `steps` total steps (continuing a checkpoint in run_dir when resume=True).

    `overrides` (batch_size, lr, cooldown, p_extra_wording) change a resumed run from here on; `workers` render
    batches in that many processes. Writes run_dir/checkpoint.pt every `checkpoint_every` steps and
    at the end, and exports the EMA weights (what sampling uses) to `export_dir` (default
    run_dir/weights) at the same moments. With `snapshot_every`, the EMA weights at each multiple of it
    are also kept in run_dir/snapshots/step_NNNNNNN, for `sora-lab model average`. `init_from` starts a
    new run from a weights folder (e.g. the shipped model) instead of from noise: its network, settings,
    step count and loss history carry on, with a fresh optimizer that warms up again. `network` (a TinyConfig
    dict) is the network a run from noise builds; a resumed or continued run must already have it.
    `time_limit_s` stops after the step that passes that much training time in this call, checkpointed like
    any other, so a run on a lent GPU ends cleanly and resumes later on the same schedule. Returns a summary
    dict (step, last loss, seconds, loss history, whether the time limit stopped it).
    """
    run_dir = Path(run_dir)
    export_dir = Path(export_dir) if export_dir is not None else run_dir / "weights"
    if threads:
        torch.set_num_threads(threads)
    ckpt_path = run_dir / CHECKPOINT
    state = None
    if resume and ckpt_path.exists():
        if init_from is not None:
            raise InputError(f"--init-from starts a new run, but {run_dir} already holds one; "
                             "choose another --run-dir, or add --fresh to replace it")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        settings = _stored_settings(state)
    elif init_from is not None:
        state = _state_from_weights(Path(init_from), steps)
        settings = _stored_settings(state)
    settings = settings or TrainSettings()
    if network is not None:
        settings = _with_network(settings, network, continuing=state is not None, run_dir=run_dir,
                                 init_from=init_from)
    if time_limit_s is not None and not time_limit_s > 0:
        raise InputError(f"the time limit must be positive; got {time_limit_s} s")
    if steps < 1:
        raise InputError("steps must be at least 1 (the total number of training steps to reach)")
    unknown = set(overrides or {}) - set(OVERRIDABLE)
    if unknown:
        raise InputError(f"cannot change {sorted(unknown)} of a run; only {list(OVERRIDABLE)} can change on resume")
    settings = TrainSettings(**{**asdict(settings), **(overrides or {})})
    run_dir.mkdir(parents=True, exist_ok=True)  # only once the request is known to be good

    torch.manual_seed(settings.seed)
    config = TinyConfig.from_dict(settings.model)
    model = TinyVideoDenoiser(config, diffusers=True).to(device)
    ema = TinyVideoDenoiser(config, diffusers=True).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    start, history, seconds, phases, warm_from = 0, [], 0.0, [], 0
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        if state["optimizer"] is not None:
            opt.load_state_dict(state["optimizer"])
        start, history, seconds = state["step"], state["history"], state["seconds"]
        phases, warm_from = _recorded_phases(state), state.get("warm_from", 0)
    phase = _phase(start, settings, device)
    if init_from is not None:  # always its own phase: the optimizer starts fresh here
        phases.append({**phase, "init_from": Path(init_from).name})
    elif not phases or _settings_of(phases[-1]) != _settings_of(phase):
        phases.append(phase)

    def weights_meta(step: int) -> dict:
        return {"trained_steps": step, "train_seconds": round(seconds, 1), "settings": asdict(settings),
                "phases": phases, "final_loss": history[-1]["loss"] if history else None, "history": history}

    def checkpoint(step: int) -> None:
        _save_checkpoint(ckpt_path, {
            "model": model.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(), "step": step,
            "history": history, "seconds": seconds, "settings": asdict(settings), "phases": phases,
            "warm_from": warm_from})
        save_weights(ema, export_dir, weights_meta(step))

    window: list[float] = []
    model.train()
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    seconds_at_start, timed_out = seconds, False
    t0 = time.perf_counter()
    for step, batch in enumerate(_batches(settings, start, steps, workers), start):
        text = encode_text(batch.captions, device)
        for group in opt.param_groups:
            group["lr"] = _lr(settings, step, steps, warm_from)
        loss = flow_matching_loss(model, batch, text)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, model_params, 1 - settings.ema_decay)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise RuntimeError(f"training diverged at step {step + 1} (loss {value}); lower --lr and resume")
        window.append(value)
        seconds += time.perf_counter() - t0
        done = step + 1
        timed_out = time_limit_s is not None and done < steps and seconds - seconds_at_start >= time_limit_s
        if done % 50 == 0 or done == steps or timed_out:
            history.append({"step": done, "loss": round(float(np.mean(window)), 5), "seconds": round(seconds, 1)})
            window = []
        if on_step is not None:
            on_step(done, value)
        if done % checkpoint_every == 0 or done == steps or timed_out:
            checkpoint(done)
        if snapshot_every and done % snapshot_every == 0:
            save_weights(ema, snapshot_dir(run_dir, done), weights_meta(done))
        if timed_out:
            break
        t0 = time.perf_counter()  # checkpoint writes are not training time
    if start >= steps:
        done = start
    return {"step": done, "loss": history[-1]["loss"] if history else None, "seconds": round(seconds, 1),
            "history": history, "run_dir": str(run_dir), "weights": str(export_dir), "ref_size": REF_SIZE,
            "stopped_at_time_limit": timed_out}


def _with_network(settings: TrainSettings, network: dict, *, continuing: bool, run_dir: Path,
                  init_from: Path | None) -> TrainSettings:
    """A run from noise builds `network`; a resumed or continued one keeps its own, so asking for
    another there is refused rather than silently ignored."""
    if not continuing:
        return TrainSettings(**{**asdict(settings), "model": dict(network)})
    if TinyConfig.from_dict(network) == TinyConfig.from_dict(settings.model):
        return settings
    if init_from is not None:
        raise InputError("--small / --network pick a new network, but --init-from continues the network of its "
                         f"weights ({settings.model}); give one or the other")
    raise InputError(f"{run_dir} already trains another network ({settings.model}), and a run's network is fixed "
                     "when it starts: resume without --small / --network, or start from noise in another "
                     "--run-dir (or add --fresh)")


def _state_from_weights(folder: Path, steps: int) -> dict:
    """A checkpoint-shaped start from exported weights: model and EMA both those weights, no optimizer
    state (the new phase warms its learning rate up again from here)."""
    try:
        loaded, meta = load_weights(folder)
    except FileNotFoundError as exc:
        raise InputError(f"--init-from: {exc}") from None
    if "settings" not in meta:
        raise InputError(f"--init-from: {folder} has no training settings in config.json; "
                         "give a folder written by `sora-lab model train` or `model average`")
    start = int(meta.get("trained_steps", 0))
    if steps <= start:
        raise InputError(f"--steps is the total to reach and these weights already have {start}; "
                         f"give more than {start}, e.g. --steps {start + 2000}")
    weights = loaded.state_dict()
    return {"model": weights, "ema": weights, "optimizer": None, "step": start, "warm_from": start,
            "history": list(meta.get("history", [])), "seconds": float(meta.get("train_seconds", 0.0)),
            "settings": meta["settings"], "phases": meta.get("phases")}


def _settings_of(phase: dict) -> dict:
    """What makes one phase differ from the next: not where it starts, nor how a fine-tune began."""
    return {k: v for k, v in phase.items() if k not in ("from_step", "init_from")}


def _phase(from_step: int, settings: TrainSettings, device: str) -> dict:
    return {"from_step": from_step, "batch_size": settings.batch_size, "lr": settings.lr,
            "cooldown": settings.cooldown, "p_extra_wording": settings.p_extra_wording, "device": device}


# Settings that older checkpoints lack, with the value those runs actually trained with.
_BEFORE_FIELD_EXISTED = {"p_extra_wording": 0.0}


def _stored_settings(state: dict) -> TrainSettings:
    return TrainSettings(**{**_BEFORE_FIELD_EXISTED, **state["settings"]})


def _recorded_phases(state: dict) -> list[dict]:
    """A checkpoint's phases; one written before phases were kept was a single CPU phase."""
    phases = state.get("phases") or [_phase(0, _stored_settings(state), "cpu")]
    return [{**_BEFORE_FIELD_EXISTED, **phase} for phase in phases]
