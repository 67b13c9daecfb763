"""Read a prompt's colour, shape, motion and background with small readouts of MiniLM's token states.

Why: for prompts in words no training caption uses ("crimson", "orb"), readouts fitted on training
captions name the attributes more often than the denoiser draws them (`model probe-text`: 0.67 against
the model's 0.55 on the paraphrase set). Sampling such a prompt adds a second guidance direction toward
the core-grammar caption of what the readouts read (`sampler.sample`, `reading=`); prompts in training
words are sampled exactly as before. The readouts (about 45 k numbers) are fitted in about 30 s by
`sora-lab model fit-reader` and shipped beside the weights as reader.safetensors.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.captions import (
    BACKGROUND_WORDS,
    COLOR_WORDS,
    MOTION_WORDS,
    SHAPE_WORDS,
    with_articles,
)
from sora_lab.generate.tiny.text_probe import Encoder, Readout, encode_padded, fit_readouts

READER_FILE = "reader.safetensors"
# What a reading may take from outside the readouts; each is a TinyBackend flag, an info() key and a
# `model eval --no-...` switch: colour names (color_names.py), motion verbs (motion_verbs.py), training words
# (trained_words.py).
READING_SWITCHES = ("color_names", "motion_verbs", "trained_words")
CORE_WORDS = {"color": COLOR_WORDS, "shape": SHAPE_WORDS, "motion": MOTION_WORDS, "background": BACKGROUND_WORDS}


class PromptReader:
    """One readout per attribute; `read` names each attribute's value, `caption` says it in core words."""

    def __init__(self, readouts: dict[str, tuple[list[str], Readout]], fit: dict):
        self.readouts = readouts
        self.fit_settings = fit

    @classmethod
    def fit(cls, *, n_captions: int = 4000, seed: int = 0, p_extra: float = 0.5,
            encoder: Encoder | None = None) -> PromptReader:
        """Fit on `n_captions` one-object training captions, as `model probe-text` does (deterministic per seed)."""
        if encoder is None:
            from sora_lab.core.embeddings import token_states as encoder
        readouts = fit_readouts(encoder, n_captions=n_captions, seed=seed, p_extra=p_extra)
        return cls(readouts, {"captions": n_captions, "seed": seed, "p_extra": p_extra})

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename), so a reader file is either whole or absent."""
        tensors = {f"{key}.{name}": value.contiguous() for key, (_, readout) in self.readouts.items()
                   for name, value in readout.state_dict().items()}
        classes = {key: classes for key, (classes, _) in self.readouts.items()}
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".reader-", suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata={"classes": json.dumps(classes), "fit": json.dumps(self.fit_settings)})
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the weights beside it are world-readable
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> PromptReader:
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
            classes, fit = json.loads(meta["classes"]), json.loads(meta["fit"])
            tensors = load_file(str(path))
        except (OSError, KeyError, ValueError, SafetensorError) as exc:
            raise InputError(f"{path} is not a prompt-reader file ({exc}); rebuild it with "
                             "`sora-lab model fit-reader --weights DIR`") from None
        readouts = {}
        for key, names in classes.items():
            state = {name.split(".", 1)[1]: value for name, value in tensors.items() if name.startswith(key + ".")}
            readout = Readout(state["queries"].shape[1], len(names))
            readout.load_state_dict(state)
            readouts[key] = (names, readout.eval())
        return cls(readouts, fit)

    @torch.no_grad()
    def read(self, prompts: list[str], encoder: Encoder | None = None) -> list[dict[str, str]]:
        """Each prompt's most likely value per attribute (the readouts always name one)."""
        if encoder is None:
            from sora_lab.core.embeddings import token_states as encoder
        states, mask = encode_padded(encoder, list(prompts))
        values: list[dict[str, str]] = [{} for _ in prompts]
        for key, (classes, readout) in self.readouts.items():
            for row, index in zip(values, readout(states, mask).argmax(-1).tolist(), strict=True):
                row[key] = classes[index]
        return values

    @staticmethod
    def caption(values: dict[str, str]) -> str:
        """The core-grammar caption of a reading, in the first (most common) word of each attribute."""
        words = {key: CORE_WORDS[key][values[key]][0] for key in CORE_WORDS}
        return with_articles(f"a {words['color']} {words['shape']} {words['motion']} "
                             f"on a {words['background']} background")
