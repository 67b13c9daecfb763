"""Flow-matching sampling with classifier-free guidance: Euler steps on the schedule of diffusers'
`FlowMatchEulerDiscreteScheduler` (computed here the same way, to the bit, without importing diffusers).

Clips travel along x_t = (1 - s) clean + s noise (s = sigma in [0, 1], timestep = 1000 s), whose velocity
is v = noise - clean. The shipped network predicts the clean clip (x0); `TinyVideoDenoiser.velocity` turns
that guess into v = (x_t - x0) / s, and Euler steps integrate that ODE from pure
noise (s = 1) to a clip (s = 0). Each step runs the conditional
and the unconditional (all-zero condition) input as one batch of 2, then mixes them:
v = v_uncond + guidance (v_cond - v_uncond). A fixed torch.Generator seed reproduces a clip.

With `reading` (the caption a prompt reader names for each clip) and `read_mask` (which clips use it),
those clips run a batch of 3 and mix a second direction toward the reading:
v = v_uncond + g1 (v_cond - v_uncond) + g2 (v_read - v_uncond), (g1, g2) = READING_GUIDANCE.
Clips outside the mask are mixed exactly as without a reading.
"""

from __future__ import annotations

import numpy as np
import torch

from sora_lab.generate.base import Progress
from sora_lab.generate.tiny.model import TinyVideoDenoiser

# Chosen on the paraphrase dev set paraphrases_dev2.jsonl when readout guidance was first tried; not tuned since.
READING_GUIDANCE = (3.0, 3.0)
TRAIN_TIMESTEPS = 1000


def shifted(sigmas, shift: float):
    """Spend more steps at high noise when shift > 1: s -> shift s / (1 + (shift - 1) s)."""
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flow_schedule(steps: int, shift: float = 1.0, device: str | torch.device = "cpu") -> torch.Tensor:
    """The `steps` + 1 noise levels (float32, 1 -> 0) the sampler visits: evenly spaced timesteps between
    the shifted ends of the 1000-step training range, shifted once more, then 0 (diffusers' scheduler does
    the same, and tests/test_tiny_wan.py holds the two equal)."""
    ends = shifted(torch.tensor([TRAIN_TIMESTEPS, 1.0]) / TRAIN_TIMESTEPS, shift)  # float32, as diffusers' are
    high, low = ends[0].item(), ends[1].item()
    timesteps = np.linspace(high * TRAIN_TIMESTEPS, low * TRAIN_TIMESTEPS, steps)
    sigmas = torch.from_numpy(shifted(timesteps / TRAIN_TIMESTEPS, shift)).to(dtype=torch.float32, device=device)
    return torch.cat([sigmas, torch.zeros(1, device=device)])


@torch.no_grad()
def sample(model: TinyVideoDenoiser, text: torch.Tensor, ref: torch.Tensor, ref_present: torch.Tensor, *,
           steps: int = 16, guidance: float = 3.0, shift: float = 1.0, generator: torch.Generator | None = None,
           noise: torch.Tensor | None = None, progress: Progress | None = None,
           reading: torch.Tensor | None = None, read_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Denoise a batch of B clips; returns (B, 3, T, H, W) in about [-1, 1].

    text (B,L,384), ref (B,3,8,8), ref_present (B,); reading (B,L,384) with read_mask (B,) bool.
    Noise is drawn on the CPU from `generator` (or taken from `noise`, shape (B,3,T,H,W)) so a seed gives
    the same clip on CPU and GPU.
    """
    cfg = model.config
    device = next(model.parameters()).device
    b = text.shape[0]
    shape = (b, 3, cfg.frames, cfg.height, cfg.width)
    if noise is None:
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
    elif tuple(noise.shape) != shape:
        raise ValueError(f"noise must have shape {shape}; got {tuple(noise.shape)}")
    x = noise.to(device, torch.float32)
    text, ref, ref_present = text.to(device), ref.to(device), ref_present.to(device)
    sigmas = flow_schedule(steps, shift, device)
    use_cfg = guidance != 1.0
    use_reading = reading is not None and read_mask is not None and bool(read_mask.any())
    if use_reading:
        if reading.shape != text.shape or read_mask.shape != (b,):
            raise ValueError(f"reading must match text {tuple(text.shape)} and read_mask be ({b},)")
        text_in = torch.cat([text, reading.to(device), torch.zeros_like(text)])
        ref_in = torch.cat([ref, ref, torch.zeros_like(ref)])
        present_in = torch.cat([ref_present, ref_present, torch.zeros_like(ref_present)])
        mix = read_mask.to(device, torch.float32).view(b, 1, 1, 1, 1)
        g1, g2 = READING_GUIDANCE
    elif use_cfg:
        text_in = torch.cat([text, torch.zeros_like(text)])
        ref_in = torch.cat([ref, torch.zeros_like(ref)])
        present_in = torch.cat([ref_present, torch.zeros_like(ref_present)])
    for i in range(steps):
        t = sigmas[i] * TRAIN_TIMESTEPS
        if use_reading:
            v = model.velocity(torch.cat([x, x, x]), t.expand(3 * b), text_in, ref_in, present_in)
            v_cond, v_read, v_uncond = v.chunk(3)
            plain = v_uncond + guidance * (v_cond - v_uncond)
            read = v_uncond + g1 * (v_cond - v_uncond) + g2 * (v_read - v_uncond)
            v = mix * read + (1 - mix) * plain
        elif use_cfg:
            v = model.velocity(torch.cat([x, x]), t.expand(2 * b), text_in, ref_in, present_in)
            v_cond, v_uncond = v.chunk(2)
            v = v_uncond + guidance * (v_cond - v_uncond)
        else:
            v = model.velocity(x, t.expand(b), text, ref, ref_present)
        x = x + (sigmas[i + 1] - sigmas[i]) * v
        if progress is not None:
            progress(i + 1, steps)
    return x
