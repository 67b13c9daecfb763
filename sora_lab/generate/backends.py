"""Build a backend by name: the two the lab knows, spelled out (no plug-in registry)."""

from __future__ import annotations

from pathlib import Path

from sora_lab.core.errors import InputError
from sora_lab.generate.base import Backend

BACKENDS = ("tiny", "pretrained")


def load_backend(name: str, model: str | Path | None = None, **options) -> Backend:
    """'tiny' (the shipped model; `model` may point at other tiny weights; options are its sampling settings,
    steps, guidance and shift) or 'pretrained' (a diffusers pipeline folder given as `model`; options go to
    PretrainedOptions)."""
    if name == "tiny":
        from sora_lab.generate.tiny.backend import TinyBackend

        return TinyBackend(weights=Path(model) if model else None, **options)
    if name == "pretrained":
        if not model:
            raise InputError("model: the pretrained backend needs --model PATH, a local diffusers pipeline folder")
        from sora_lab.generate.pretrained import PretrainedBackend, PretrainedOptions

        return PretrainedBackend(model, PretrainedOptions(**options))
    raise InputError(f"backend: {name!r} is not known; choose one of {', '.join(BACKENDS)}")
