"""Turn a prompt and an optional reference image into the tensors the denoiser reads.

Text goes through the lab's offline MiniLM (sora_lab.core.embeddings): per-token states,
padding set to zero and cut/padded to MAX_TEXT_TOKENS, so the same caption always gives
the same tensor during training and sampling. The "empty" condition for classifier-free
guidance is all zeros (text and reference), which training shows the model 10% of the time.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from sora_lab.core.embeddings import token_states
from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.model import MAX_TEXT_TOKENS, REF_SIZE, TEXT_DIM


def encode_text(captions: list[str], device: str = "cpu") -> torch.Tensor:
    """(B, MAX_TEXT_TOKENS, 384) float32 on `device`; padding positions are exactly zero."""
    states, mask = token_states(list(captions), device)
    states = states * mask[..., None].to(states.dtype)
    out = torch.zeros((len(captions), MAX_TEXT_TOKENS, TEXT_DIM), dtype=torch.float32, device=states.device)
    n = min(MAX_TEXT_TOKENS, states.shape[1])
    out[:, :n] = states[:, :n]
    return out


def reference_to_tensor(reference: np.ndarray | None) -> tuple[torch.Tensor, float]:
    """RGB uint8 image (H,W,3) of any size -> ((3,8,8) in [-1,1], present flag).

    The sprite is area-averaged to 8 x 8, the size at which it appears in the clip.
    """
    if reference is None:
        return torch.zeros(3, REF_SIZE, REF_SIZE), 0.0
    ref = np.asarray(reference)
    if ref.ndim != 3 or ref.shape[2] not in (3, 4) or ref.dtype != np.uint8:
        raise InputError(f"reference must be an RGB uint8 image of shape (H, W, 3); got {ref.dtype} {ref.shape}")
    ref = np.ascontiguousarray(ref[..., :3])
    small = cv2.resize(ref, (REF_SIZE, REF_SIZE), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(small).permute(2, 0, 1).float().div(127.5).sub(1.0), 1.0
