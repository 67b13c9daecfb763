"""The tiny model's Wan transformer in plain torch, for rendering.

Why: importing diffusers costs 1-3 s (its package imports torch._dynamo, transformers and scipy), most
of what a cold `sora-lab generate` may spend in all (issue 36: 4 s for a 10 s clip on 2 cores). Training
builds diffusers' `WanTransformer3DModel`; rendering loads the same weights into this module, which
computes the same function with the same torch operations in the same order, for the subset of Wan
the tiny model uses (no image branch, float32). Parameter names match diffusers', so one safetensors
file serves both, and tests/test_tiny_wan.py checks the two agree to the bit, one forward and a whole clip.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6  # the epsilon of every norm in the tiny Wan (diffusers' default)
ROPE_THETA = 10000.0


def timestep_features(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) timesteps -> (B, dim) sinusoid features, cosines first: what Wan's time embedder reads."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=timesteps.device)
                            / half)
    angles = timesteps[:, None].float() * frequencies[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def rotary_tables(head_dim: int, max_len: int) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int, int]]:
    """cos and sin tables (max_len, head_dim) for frames | rows | columns, and the three widths.

    Each head's channels are split three ways (rows and columns get 2 * (head_dim // 6) each, frames
    the rest); every channel pair turns by position x 1 / theta^(2i / width), computed in float64.
    """
    rows = cols = 2 * (head_dim // 6)
    widths = (head_dim - rows - cols, rows, cols)
    positions = torch.arange(max_len)
    cos, sin = [], []
    for width in widths:
        inverse = 1.0 / (ROPE_THETA ** (torch.arange(0, width, 2, dtype=torch.float64) / width))
        angles = torch.outer(positions, inverse)
        cos.append(angles.cos().repeat_interleave(2, dim=1).float())
        sin.append(angles.sin().repeat_interleave(2, dim=1).float())
    return torch.cat(cos, dim=1), torch.cat(sin, dim=1), widths


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Turn each (even, odd) channel pair of x (B, S, heads, d) by the angles in cos/sin (1, S, 1, d)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    cos, sin = cos[..., 0::2], sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


class Attention(nn.Module):
    """Multi-head attention with RMS-normed queries and keys (normed across all heads at once)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])
        self.norm_q = nn.RMSNorm(dim, eps=EPS)
        self.norm_k = nn.RMSNorm(dim, eps=EPS)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                rotary: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        source = x if context is None else context
        q = self.norm_q(self.to_q(x)).unflatten(2, (self.heads, -1))
        k = self.norm_k(self.to_k(source)).unflatten(2, (self.heads, -1))
        v = self.to_v(source).unflatten(2, (self.heads, -1))
        if rotary is not None:
            q, k = rotate(q, *rotary), rotate(k, *rotary)
        out = F.scaled_dot_product_attention(q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3))
        return self.to_out[0](out.permute(0, 2, 1, 3).flatten(2, 3))


class GeluProjection(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.net = nn.ModuleList([GeluProjection(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[0](x))


class Block(nn.Module):
    """Self-attention over the clip's patches, cross-attention to the condition tokens, a feed-forward;
    the time embedding shifts, scales and gates the first and last (six vectors a block)."""

    def __init__(self, dim: int, ffn_dim: int, heads: int):
        super().__init__()
        self.attn1 = Attention(dim, heads)
        self.attn2 = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.ffn = FeedForward(dim, ffn_dim)
        self.scale_shift_table = nn.Parameter(torch.zeros(1, 6, dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor, time: torch.Tensor,
                rotary: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        shift, scale, gate, ff_shift, ff_scale, ff_gate = (self.scale_shift_table + time).chunk(6, dim=1)
        dim = x.shape[-1:]
        x = x + self.attn1(F.layer_norm(x, dim, eps=EPS) * (1 + scale) + shift, rotary=rotary) * gate
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ffn(F.layer_norm(x, dim, eps=EPS) * (1 + ff_scale) + ff_shift) * ff_gate


class TwoLayer(nn.Module):
    """linear_1, an activation, linear_2: Wan's time embedder (SiLU) and text embedder (tanh GELU)."""

    def __init__(self, in_dim: int, dim: int, activation: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.activation(self.linear_1(x)))


class ConditionEmbedder(nn.Module):
    def __init__(self, dim: int, freq_dim: int, text_dim: int):
        super().__init__()
        self.freq_dim = freq_dim
        self.time_embedder = TwoLayer(freq_dim, dim, F.silu)
        self.time_proj = nn.Linear(dim, 6 * dim)
        self.text_embedder = TwoLayer(text_dim, dim, functools.partial(F.gelu, approximate="tanh"))


class TinyWan(nn.Module):
    """Wan's video transformer (patchify, 3-D rotary positions, blocks, unpatchify) for float32 clips.

    forward(hidden_states (B,C,T,H,W), timestep (B,) in [0, 1000], encoder_hidden_states (B,L,text_dim))
    -> ((B,C,T,H,W),): diffusers' call and return shape, so the denoiser calls either model the same way.
    """

    def __init__(self, *, patch_size: tuple[int, int, int], num_attention_heads: int, attention_head_dim: int,
                 in_channels: int, out_channels: int, text_dim: int, freq_dim: int, ffn_dim: int, num_layers: int,
                 rope_max_seq_len: int):
        super().__init__()
        dim = num_attention_heads * attention_head_dim
        self.patch_size = tuple(patch_size)
        self.patch_embedding = nn.Conv3d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.condition_embedder = ConditionEmbedder(dim, freq_dim, text_dim)
        self.blocks = nn.ModuleList([Block(dim, ffn_dim, num_attention_heads) for _ in range(num_layers)])
        self.proj_out = nn.Linear(dim, out_channels * math.prod(patch_size))
        self.scale_shift_table = nn.Parameter(torch.zeros(1, 2, dim))
        cos, sin, self.rope_widths = rotary_tables(attention_head_dim, rope_max_seq_len)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def rotary(self, frames: int, rows: int, cols: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(1, frames*rows*cols, 1, head_dim) cos and sin: each patch's frame, row and column angles side by side."""
        sizes = (frames, rows, cols)
        out = []
        for table in (self.rope_cos, self.rope_sin):
            parts = table.split(self.rope_widths, dim=1)
            grids = [parts[axis][:n].view([n if a == axis else 1 for a in range(3)] + [-1]).expand(*sizes, -1)
                     for axis, n in enumerate(sizes)]
            out.append(torch.cat(grids, dim=-1).reshape(1, frames * rows * cols, 1, -1))
        return out[0], out[1]

    def forward(self, hidden_states: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                return_dict: bool = False) -> tuple[torch.Tensor]:
        if return_dict:
            raise ValueError("TinyWan returns a tuple; call it with return_dict=False")
        # 1. Patches become tokens, with their rotary angles.
        x, context = hidden_states, encoder_hidden_states
        b, _, t, h, w = x.shape
        pt, ph, pw = self.patch_size
        frames, rows, cols = t // pt, h // ph, w // pw
        rotary = self.rotary(frames, rows, cols)
        tokens = self.patch_embedding(x).flatten(2).transpose(1, 2).contiguous()

        # 2. The time embedding and the condition tokens.
        cond = self.condition_embedder
        time = cond.time_embedder(timestep_features(timestep, cond.freq_dim))
        time_mod = cond.time_proj(F.silu(time)).unflatten(1, (6, -1))
        context = cond.text_embedder(context)

        # 3. The blocks.
        for block in self.blocks:
            tokens = block(tokens, context, time_mod, rotary)

        # 4. Norm, modulate and project each token back to its patch of pixels.
        shift, scale = (self.scale_shift_table + time.unsqueeze(1)).chunk(2, dim=1)
        tokens = F.layer_norm(tokens, tokens.shape[-1:], eps=EPS) * (1 + scale) + shift
        patches = self.proj_out(tokens).reshape(b, frames, rows, cols, pt, ph, pw, -1)
        return (patches.permute(0, 7, 1, 4, 2, 5, 3, 6).flatten(6, 7).flatten(4, 5).flatten(2, 3),)
