"""`TinyBackend`: the shipped text-to-video model behind the lab's Backend protocol.

It returns the model's own 16 frames at 20 x 36 (W x H) spanning the whole clip
(fps = 16 / seconds); the generation pipeline interpolates to 24 fps, upscales, adds the
watermark and sound. The same (prompt, seed, reference) always gives the same frames.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import torch

from sora_lab.core.errors import InputError
from sora_lab.generate.base import Clip, Progress, check_guidance
from sora_lab.generate.tiny.captions import names_two_objects, unfamiliar_words
from sora_lab.generate.tiny.color_names import named_color
from sora_lab.generate.tiny.conditioning import encode_text, reference_to_tensor
from sora_lab.generate.tiny.model import count_parameters, load_weights, tensor_to_clip
from sora_lab.generate.tiny.motion_verbs import named_motion
from sora_lab.generate.tiny.reading import READER_FILE, READING_SWITCHES, PromptReader
from sora_lab.generate.tiny.sampler import sample
from sora_lab.generate.tiny.trained_words import stated_values

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_STEPS = 16
DEFAULT_GUIDANCE = 3.0
DEFAULT_SHIFT = 1.0


class TinyBackend:
    """Loads the weights once; `render` is thread-safe (one sampling at a time per backend)."""

    name = "tiny"

    def __init__(self, weights: str | Path | None = None, *, device: str | None = None, steps: int | None = None,
                 guidance: float | None = None, shift: float | None = None, threads: int | None = None,
                 reading: bool = True, color_names: bool = True, motion_verbs: bool = True,
                 trained_words: bool = True):
        """steps/guidance/shift default to the values tuned for these weights (config.json "sampling").

        With `reading` (the default) and a reader.safetensors beside the weights, a prompt with words no
        training caption uses is also steered toward what the prompt reader reads from it (reading.py);
        with `color_names` too, a colour it names only by a survey colour name is read from that name's
        measured colour instead (color_names.py); with `motion_verbs`, a motion it names only by verbs training lacks
        is read from WordNet (motion_verbs.py); with `trained_words`, an attribute the prompt's training words
        name outright ("blue", "left") takes that value whatever the readouts say (trained_words.py).
        """
        self.weights_dir = Path(weights) if weights is not None else WEIGHTS_DIR
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model, self.meta = load_weights(self.weights_dir, self.device)
        sampling = self.meta.get("sampling", {})
        self.steps = int(steps if steps is not None else sampling.get("steps", DEFAULT_STEPS))
        if self.steps < 1 or self.steps > 200:
            raise InputError(f"steps must be between 1 and 200; got {self.steps}")
        self.guidance = check_guidance(guidance if guidance is not None else sampling.get("guidance", DEFAULT_GUIDANCE))
        self.shift = float(shift if shift is not None else sampling.get("shift", DEFAULT_SHIFT))
        if not math.isfinite(self.shift) or self.shift <= 0:
            raise InputError(f"shift stretches the noise schedule and must be a positive number; got {self.shift}")
        self.threads = threads
        reader_path = self.weights_dir / READER_FILE
        self.reader = PromptReader.load(reader_path) if reading and reader_path.is_file() else None
        self.color_names = color_names and self.reader is not None
        self.motion_verbs = motion_verbs and self.reader is not None
        self.trained_words = trained_words and self.reader is not None
        self.model_id = f"sora-lab/tiny-wan@{self.meta.get('trained_steps', 0)}"
        self._lock = threading.Lock()

    def info(self) -> dict:
        return {"name": self.name, "model_id": self.model_id, "weights": str(self.weights_dir),
                "device": str(self.device), "parameters": count_parameters(self.model), "steps": self.steps,
                "guidance": self.guidance, "shift": self.shift, "config": self.meta.get("config"),
                "trained_steps": self.meta.get("trained_steps"), "train_seconds": self.meta.get("train_seconds"),
                "prompt_reader": self.reader is not None,
                **{switch: getattr(self, switch) for switch in READING_SWITCHES}}

    def readings(self, prompts: list[str], references: list[np.ndarray | None]) -> list[str | None]:
        """Per clip, the core caption sampling also steers toward, or None: only prompts with words no
        training caption uses, never a cameo clip (its subject is a person, which no readout names), and
        never a prompt naming two objects (the readouts read one, and would blend the two). A colour the
        prompt names only by a survey colour name ("cranberry") is that name's world colour (color_names.py), a
        motion named only by verbs training lacks ("surfacing") is WordNet's (motion_verbs.py), and an attribute
        its training words name outright is that value (trained_words.py)."""
        asked = [i for i, (p, r) in enumerate(zip(prompts, references, strict=True))
                 if self.reader is not None and r is None and unfamiliar_words(p) and not names_two_objects(p)]
        out: list[str | None] = [None] * len(prompts)
        if asked:
            for i, values in zip(asked, self.reader.read([prompts[i] for i in asked]), strict=True):
                named = named_color(prompts[i]) if self.color_names else None
                if named is not None:
                    values["color"] = named[1]
                motion = named_motion(prompts[i]) if self.motion_verbs else None
                if motion is not None:
                    values["motion"] = motion
                if self.trained_words:
                    values.update(stated_values(prompts[i]))
                out[i] = PromptReader.caption(values)
        return out

    def render_batch(self, prompts: list[str], *, seeds: list[int], references: list[np.ndarray | None] | None = None,
                     progress: Progress | None = None) -> np.ndarray:
        """Several clips at once, (B, T, H, W, 3) uint8 — one sampling loop, for GPUs and benchmarks.

        Each clip's noise comes from its own seed, so a clip is the same alone or in a batch
        (up to float rounding of batched matrix products).
        """
        return self._render(prompts, seeds, references, progress)[0]

    def _render(self, prompts: list[str], seeds: list[int], references: list[np.ndarray | None] | None,
                progress: Progress | None) -> tuple[np.ndarray, list[str | None]]:
        if len(prompts) != len(seeds):
            raise InputError("give one seed per prompt")
        references = references if references is not None else [None] * len(prompts)
        for p in prompts:
            if not isinstance(p, str) or not p.strip():
                raise InputError("prompt must be a non-empty string")
        text = encode_text(prompts)
        readings = self.readings(prompts, references)
        read_mask = torch.tensor([r is not None for r in readings])
        reading = None
        if read_mask.any():  # clips outside the mask ignore their row, so it keeps their own prompt's states
            reading = text.clone()
            reading[read_mask] = encode_text([r for r in readings if r is not None])
        refs = [reference_to_tensor(r) for r in references]
        ref = torch.stack([r for r, _ in refs])
        present = torch.tensor([f for _, f in refs])
        noises = []
        cfg = self.model.config
        for s in seeds:
            g = torch.Generator().manual_seed(int(s))
            noises.append(torch.randn((1, 3, cfg.frames, cfg.height, cfg.width), generator=g))
        with self._lock:
            previous = torch.get_num_threads()
            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                x = sample(self.model, text, ref, present, steps=self.steps, guidance=self.guidance, shift=self.shift,
                           noise=torch.cat(noises), progress=progress, reading=reading, read_mask=read_mask)
            finally:
                if self.threads:
                    torch.set_num_threads(previous)
        return np.stack([tensor_to_clip(c) for c in x]), readings

    def render(self, prompt: str, *, seconds: float, seed: int, reference: np.ndarray | None = None,
               progress: Progress | None = None) -> Clip:
        """One clip of `seconds` seconds: 16 frames at 16/seconds fps, model resolution (20 x 36)."""
        if not seconds or seconds <= 0 or seconds > 60:
            raise InputError("seconds must be > 0 and at most 60 (the tiny model spans the clip with 16 frames)")
        batch, readings = self._render([prompt], [seed], [reference], progress)
        frames = batch[0]
        return Clip(frames=frames, fps=frames.shape[0] / float(seconds), meta={
            "backend": self.name, "model_id": self.model_id, "steps": self.steps, "guidance": self.guidance,
            "shift": self.shift, "seed": int(seed), "reference": reference is not None,
            "read_as": readings[0],
            "resolution": [int(frames.shape[2]), int(frames.shape[1])], "frames": int(frames.shape[0])})
