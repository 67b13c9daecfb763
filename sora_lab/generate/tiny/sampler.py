"""Flow-matching sampling with classifier-free guidance, using diffusers' Euler scheduler.

Clips travel along x_t = (1 - s) clean + s noise (s = sigma in [0, 1], timestep = 1000 s), whose velocity
is v = noise - clean. The shipped network predicts the clean clip (x0); `TinyVideoDenoiser.velocity` turns
that guess into v = (x_t - x0) / s, and `FlowMatchEulerDiscreteScheduler` integrates that ODE from pure
noise (s = 1) to a clip (s = 0). Each step runs the conditional
and the unconditional (all-zero condition) input as one batch of 2, then mixes them:
v = v_uncond + guidance (v_cond - v_uncond). A fixed torch.Generator seed reproduces a clip.

With `reading` (the caption a prompt reader names for each clip) and `read_mask` (which clips use it),
those clips run a batch of 3 and mix a second direction toward the reading:
v = v_uncond + g1 (v_cond - v_uncond) + g2 (v_read - v_uncond), (g1, g2) = READING_GUIDANCE.
Clips outside the mask are mixed exactly as without a reading.
"""

from __future__ import annotations

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from sora_lab.generate.base import Progress
from sora_lab.generate.tiny.model import TinyVideoDenoiser

# Chosen on the paraphrase dev set paraphrases_dev2.jsonl when readout guidance was first tried; not tuned since.
READING_GUIDANCE = (3.0, 3.0)


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
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    scheduler.set_timesteps(steps, device=device)
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
    for i, t in enumerate(scheduler.timesteps):
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
        x = scheduler.step(v, t, x, return_dict=False)[0]
        if progress is not None:
            progress(i + 1, steps)
    return x
