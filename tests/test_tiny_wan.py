"""Rendering runs the tiny model through `wan.TinyWan` and `sampler.flow_schedule`, not diffusers
(issue 36's cold start): they must compute what diffusers' WanTransformer3DModel and
FlowMatchEulerDiscreteScheduler compute, to the bit, or the shipped weights would draw other clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from sora_lab.generate.tiny.backend import TinyBackend
from sora_lab.generate.tiny.model import MAX_TEXT_TOKENS, REF_SIZE, TEXT_DIM, TinyConfig, TinyVideoDenoiser
from sora_lab.generate.tiny.network import SMALL
from sora_lab.generate.tiny.sampler import flow_schedule
from sora_lab.generate.tiny.wan import TinyWan


def _twins(config: TinyConfig) -> tuple[TinyVideoDenoiser, TinyVideoDenoiser]:
    """diffusers' model with its own random initialisation, and the torch-only one loaded from it."""
    torch.manual_seed(0)
    reference = TinyVideoDenoiser(config, diffusers=True).eval()
    lean = TinyVideoDenoiser(config).eval()
    lean.load_state_dict(reference.state_dict())  # strict: every name and shape must match
    assert isinstance(lean.transformer, TinyWan) and not isinstance(reference.transformer, TinyWan)
    return reference, lean


@pytest.mark.parametrize("network", [{}, SMALL, {"patch_size": (1, 4, 4)}, {"head_dim": 16, "freq_dim": 32}],
                         ids=["default", "small", "patch-1-4-4", "head16"])
def test_one_forward_equals_diffusers_wan_to_the_bit(network):
    config = TinyConfig(**network)
    reference, lean = _twins(config)
    g = torch.Generator().manual_seed(1)
    for batch in (1, 2, 3):  # alone, with guidance, with guidance and a reading
        x = torch.randn(batch, 3, config.frames, config.height, config.width, generator=g)
        t = torch.rand(batch, generator=g) * 1000
        text = torch.randn(batch, MAX_TEXT_TOKENS, TEXT_DIM, generator=g)
        ref = torch.randn(batch, 3, REF_SIZE, REF_SIZE, generator=g)
        present = (torch.arange(batch) % 2).float()
        with torch.no_grad():
            assert torch.equal(lean(x, t, text, ref, present), reference(x, t, text, ref, present))


@pytest.mark.parametrize("steps", [1, 2, 16, 50])
@pytest.mark.parametrize("shift", [0.5, 1.0, 3.0])
def test_flow_schedule_equals_diffusers_scheduler(steps, shift):
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    scheduler.set_timesteps(steps, device="cpu")
    sigmas = flow_schedule(steps, shift)
    assert torch.equal(sigmas, scheduler.sigmas)
    assert torch.equal(sigmas[:-1] * 1000, scheduler.timesteps)
    x, v = torch.randn(2, 5), torch.randn(2, 5)
    for i, t in enumerate(scheduler.timesteps):  # one Euler step is the same step
        assert torch.equal(x + (sigmas[i + 1] - sigmas[i]) * v, scheduler.step(v, t, x, return_dict=False)[0])


def test_shipped_model_draws_the_same_clips_as_through_diffusers():
    """Whole clips from the shipped weights: a prompt in training words, one the reader steers
    (three-way batch), a cameo reference, and two clips in one batch."""
    backend = TinyBackend(device="cpu")
    reference = TinyVideoDenoiser(backend.model.config, diffusers=True).eval()
    reference.load_state_dict(backend.model.state_dict())
    face = np.zeros((64, 64, 3), np.uint8)
    face[16:48, 16:48] = (230, 180, 150)
    cases = [(["a red ball bounces on a navy background"], [3], None),
             (["a crimson orb drifts left over teal"], [4], None),
             (["a person waves"], [5], [face]),
             (["a yellow star moves right", "a green triangle spins against black"], [6, 7], None)]
    lean_model = backend.model
    for prompts, seeds, refs in cases:
        backend.model = lean_model
        lean = backend.render_batch(prompts, seeds=seeds, references=refs)
        backend.model = reference
        expected = backend.render_batch(prompts, seeds=seeds, references=refs)
        assert np.array_equal(lean, expected), prompts
    backend.model = lean_model
    assert backend.readings(["a crimson orb drifts left over teal"], [None])[0]  # the reader case did steer
