"""The tiny denoiser: a diffusers `WanTransformer3DModel` at toy size, in pixel space.

Training builds diffusers' class; rendering loads the same weights into `wan.TinyWan`, the same
function in plain torch, so that a cold `sora-lab generate` does not import diffusers (see wan.py).

Why these choices:
- Pixel space (3 channels, values in [-1, 1]) at 16 x 36 x 20: no VAE to train or ship,
  and the pixels are already tiny. Patches of (2, 4, 4) give 8 x 9 x 5 = 360 tokens,
  which a 4-layer, 128-wide transformer denoises in tens of milliseconds on one CPU core.
- Wan's cross-attention reads text tokens; we feed it MiniLM's per-token states (384-d)
  so the model attends over words, and paraphrases land near the training words.
- A cameo reference image becomes 16 extra "words": the sprite at 8 x 8 is cut into
  2 x 2 patches, projected to 384-d and appended to the text tokens. (Wan's own image
  branch assumes 512 text tokens, too costly here.) No reference = zero tokens, which is
  also what classifier-free guidance uses as "unconditional".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sora_lab.core.home import write_bytes_atomic
from sora_lab.generate.tiny.wan import TinyWan
from sora_lab.generate.tiny.world import FRAMES, HEIGHT, WIDTH

TEXT_DIM = 384
MAX_TEXT_TOKENS = 24
REF_SIZE = 8  # reference sprite is seen at 8 x 8 pixels
REF_PATCH = 2
REF_TOKENS = (REF_SIZE // REF_PATCH) ** 2


@dataclass
class TinyConfig:
    """Everything needed to rebuild the network (stored as config.json beside the weights)."""

    frames: int = FRAMES
    height: int = HEIGHT
    width: int = WIDTH
    patch_size: tuple[int, int, int] = (2, 4, 4)
    num_layers: int = 4
    num_heads: int = 4
    head_dim: int = 32
    ffn_dim: int = 512
    freq_dim: int = 64
    # What the network outputs: "x0" (the clean clip) or "velocity" (noise - clean). In pixel space with
    # 96-value patches and a 128-wide network, predicting the clean clip is far easier (flat backgrounds are
    # trivially clean, while noise is incompressible) — see "Back to Basics: Let Denoising Generative Models
    # Denoise" (Li & He, 2025). Sampling and the loss both work in velocity terms either way.
    prediction: str = "x0"

    @classmethod
    def from_dict(cls, data: dict) -> TinyConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.setdefault("prediction", "velocity")  # configs written before the field existed
        if "patch_size" in known:
            known["patch_size"] = tuple(known["patch_size"])
        return cls(**known)


class TinyVideoDenoiser(nn.Module):
    """Predicts the clean clip (config.prediction == "x0") or the velocity (noise - clean) for a noisy clip.

    forward(x (B,3,T,H,W) in [-1,1]-ish, t (B,) in [0,1000], text (B,L,384), ref (B,3,8,8) or None-equivalent zeros
    with ref_present (B,) in {0,1}).
    """

    def __init__(self, config: TinyConfig, *, diffusers: bool = False):
        """`diffusers=True` builds diffusers' WanTransformer3DModel (training); the default, the
        torch-only TinyWan with the same parameters and outputs (rendering)."""
        super().__init__()
        self.config = config
        if diffusers:
            from diffusers import WanTransformer3DModel as Transformer
        else:
            Transformer = TinyWan  # noqa: N806 (a class)
        self.transformer = Transformer(
            patch_size=config.patch_size,
            num_attention_heads=config.num_heads,
            attention_head_dim=config.head_dim,
            in_channels=3,
            out_channels=3,
            text_dim=TEXT_DIM,
            freq_dim=config.freq_dim,
            ffn_dim=config.ffn_dim,
            num_layers=config.num_layers,
            rope_max_seq_len=64,
        )
        patch_dim = 3 * REF_PATCH * REF_PATCH
        self.ref_proj = nn.Linear(patch_dim, TEXT_DIM)
        self.ref_pos = nn.Parameter(torch.randn(REF_TOKENS, TEXT_DIM) * 0.02)

    def reference_tokens(self, ref: torch.Tensor, ref_present: torch.Tensor) -> torch.Tensor:
        """(B,3,8,8) in [-1,1] -> (B,16,384); rows with ref_present == 0 become zeros."""
        b = ref.shape[0]
        p = REF_PATCH
        patches = ref.reshape(b, 3, REF_SIZE // p, p, REF_SIZE // p, p).permute(0, 2, 4, 1, 3, 5)
        patches = patches.reshape(b, REF_TOKENS, 3 * p * p)
        tokens = self.ref_proj(patches) + self.ref_pos
        return tokens * ref_present.view(b, 1, 1).to(tokens.dtype)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, ref: torch.Tensor,
                ref_present: torch.Tensor) -> torch.Tensor:
        context = torch.cat([text, self.reference_tokens(ref, ref_present)], dim=1)
        return self.transformer(hidden_states=x, timestep=t, encoder_hidden_states=context, return_dict=False)[0]

    def velocity(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, ref: torch.Tensor,
                 ref_present: torch.Tensor) -> torch.Tensor:
        """The flow-matching velocity at timestep t (= 1000 sigma), whatever the network predicts."""
        out = self(x, t, text, ref, ref_present)
        if self.config.prediction == "velocity":
            return out
        sigma = (t.float() / 1000).clamp(min=1e-3).view(-1, 1, 1, 1, 1)
        return (x - out) / sigma


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_weights(model: TinyVideoDenoiser, folder: Path, extra: dict | None = None) -> None:
    """model.safetensors + config.json in `folder` (both written atomically)."""
    from safetensors.torch import save as st_save

    folder = Path(folder)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_bytes_atomic(folder / "model.safetensors", st_save(tensors))
    meta = {"config": asdict(model.config), **(extra or {})}
    write_bytes_atomic(folder / "config.json", json.dumps(meta, indent=2).encode())


def load_weights(folder: Path, device: str | torch.device = "cpu") -> tuple[TinyVideoDenoiser, dict]:
    """Rebuild the (torch-only) denoiser from a weights folder; returns (model in eval mode, config.json)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg_path, st_path = folder / "config.json", folder / "model.safetensors"
    if not st_path.exists() or not cfg_path.exists():
        raise FileNotFoundError(f"no tiny model in {folder}: expected config.json and model.safetensors "
                                "(train one with `sora-lab model train`)")
    meta = json.loads(cfg_path.read_text())
    model = TinyVideoDenoiser(TinyConfig.from_dict(meta["config"]))
    model.load_state_dict(load_file(str(st_path)))
    model.to(device).eval()
    return model, meta


def clip_to_tensor(clip: np.ndarray) -> torch.Tensor:
    """uint8 (T,H,W,3) -> float (3,T,H,W) in [-1,1]."""
    return torch.from_numpy(clip).permute(3, 0, 1, 2).float().div(127.5).sub(1.0)


def tensor_to_clip(x: torch.Tensor) -> np.ndarray:
    """float (3,T,H,W) in [-1,1] -> uint8 (T,H,W,3)."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 3, 0).cpu().numpy()
