"""Which network a new training run builds: the default, `--small`, and `--network KEY=VALUE` changes.

Why: the next things worth trying on this model are structural (one frame per temporal patch, wider
tokens), and they only make sense trained from noise. A shape the transformer cannot take should fail
here, naming the option, before a run folder or a GPU minute is spent on it.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import torch

from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.model import MAX_TEXT_TOKENS, REF_SIZE, TEXT_DIM, TinyConfig, TinyVideoDenoiser

SMALL = {"num_layers": 2, "num_heads": 2, "head_dim": 32, "ffn_dim": 256}  # the workshop network
INT_KEYS = ("num_layers", "num_heads", "head_dim", "ffn_dim", "freq_dim")
PREDICTIONS = ("x0", "velocity")
KEYS = ("patch_size", *INT_KEYS, "prediction")


def network_config(*, small: bool = False, changes: list[str] | None = None) -> dict:
    """The TinyConfig (as a dict) for a run from noise: default or `small`, then each "KEY=VALUE" change."""
    config = TinyConfig(**(SMALL if small else {}))
    for change in changes or []:
        key, sep, value = change.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise InputError(f"--network {change!r}: write KEY=VALUE, e.g. --network patch_size=1,4,4")
        if key not in KEYS:
            raise InputError(f"--network {change!r}: unknown key {key!r}; the keys are {', '.join(KEYS)}")
        config = replace(config, **{key: _parse(key, value, config)})
    _check_builds(config)
    return asdict(config)


def _parse(key: str, value: str, config: TinyConfig):
    if key == "prediction":
        if value not in PREDICTIONS:
            raise InputError(f"--network prediction={value}: must be x0 (the clean clip) or velocity")
        return value
    if key == "patch_size":
        parts = value.split(",")
        if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
            raise InputError(f"--network patch_size={value}: give three positive whole numbers, "
                             "frames,rows,columns, e.g. patch_size=1,4,4")
        patch = tuple(int(p) for p in parts)
        for size, name, dim in zip(patch, ("frames", "rows", "columns"),
                                   (config.frames, config.height, config.width), strict=True):
            if dim % size:
                raise InputError(f"--network patch_size={value}: a patch of {size} {name} does not divide the "
                                 f"clip's {dim} {name}; use a divisor of {dim}")
        return patch
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"--network {key}={value}: must be a positive whole number")
    number = int(value)
    if key == "head_dim" and (number % 2 or number < 6):
        raise InputError(f"--network head_dim={value}: must be even and at least 6, so each head can share "
                         "its rotary position code among frames, rows and columns")
    return number


def _check_builds(config: TinyConfig) -> None:
    """Build the network and denoise one blank clip, so any other shape diffusers refuses fails now."""
    try:
        with torch.no_grad():
            model = TinyVideoDenoiser(config, diffusers=True)
            model(torch.zeros(1, 3, config.frames, config.height, config.width), torch.full((1,), 500.0),
                  torch.zeros(1, MAX_TEXT_TOKENS, TEXT_DIM), torch.zeros(1, 3, REF_SIZE, REF_SIZE), torch.zeros(1))
    except Exception as exc:  # whatever the transformer refuses, the user needs to know which setting
        raise InputError(f"--network: diffusers' WanTransformer3DModel cannot run {asdict(config)} "
                         f"({type(exc).__name__}: {exc}); change the settings named there") from None
