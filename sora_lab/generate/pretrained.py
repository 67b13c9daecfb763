"""Pretrained diffusers text-to-video and image-to-video pipelines, loaded from a local folder.

Supported (the folder's model_index.json names the class): Wan 2.1 (WanPipeline,
WanImageToVideoPipeline), LTX-Video (LTXPipeline, LTXImageToVideoPipeline) and CogVideoX
(CogVideoXPipeline, CogVideoXImageToVideoPipeline). Nothing is downloaded: the folder must hold
the weights (e.g. a `save_pretrained` copy).

A cameo reference conditions the model through image-to-video: the reference becomes the first
frame and the model animates it. An LTX text-to-video folder can do that with the same weights
(`LTXImageToVideoPipeline.from_pipe`); Wan and CogVideoX need their image-to-video folder.

On CUDA the pipeline runs in bfloat16; `cpu_offload` keeps only the active sub-model on the
GPU (big models on small cards), `vae_tiling` decodes in tiles (large frames in little memory).
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sora_lab.core.errors import InputError
from sora_lab.generate.base import Clip, Progress, check_guidance


@dataclass(frozen=True)
class PipelineKind:
    mode: str
    """'t2v' or 'i2v'."""
    native_fps: int
    frame_multiple: int
    """Frame counts must be frame_multiple * k + 1 (the VAE's temporal compression)."""
    image_sibling: str | None = None
    """An image-to-video class that can reuse this pipeline's components via from_pipe."""


KINDS: dict[str, PipelineKind] = {
    "WanPipeline": PipelineKind("t2v", 16, 4),
    "WanImageToVideoPipeline": PipelineKind("i2v", 16, 4),
    "LTXPipeline": PipelineKind("t2v", 24, 8, image_sibling="LTXImageToVideoPipeline"),
    "LTXImageToVideoPipeline": PipelineKind("i2v", 24, 8),
    "CogVideoXPipeline": PipelineKind("t2v", 8, 4),
    "CogVideoXImageToVideoPipeline": PipelineKind("i2v", 8, 4),
}


@dataclass(frozen=True)
class PretrainedOptions:
    device: str | None = None
    """'cuda', 'cpu' or None (CUDA when available)."""
    dtype: str | None = None
    """'bfloat16', 'float16', 'float32' or None (bfloat16 on CUDA, float32 on CPU)."""
    cpu_offload: bool = False
    vae_tiling: bool = False
    steps: int = 30
    guidance: float = 5.0
    width: int = 480
    height: int = 832
    """Vertical 9:16-ish default; multiples of 32 suit every supported VAE."""
    max_frames: int = 121
    """Upper bound on generated frames; longer clips get a lower frame rate (then interpolated)."""
    negative_prompt: str = ""
    audio_model: str | None = None
    """A local diffusers text-to-audio folder (StableAudio, AudioLDM) for the background bed; None: synthesised."""
    audio_steps: int = 50

    def __post_init__(self):
        """Check every field when the options are made, so a bad value is refused with its name
        before a job is queued, not minutes later inside the pipeline."""
        if self.device is not None and not re.fullmatch(r"cpu|cuda(:\d+)?", str(self.device)):
            raise InputError(f"options.device must be 'cpu', 'cuda' or 'cuda:N'; got {self.device!r}")
        if self.dtype not in (None, "bfloat16", "float16", "float32"):
            raise InputError(f"options.dtype must be 'bfloat16', 'float16' or 'float32'; got {self.dtype!r}")
        for name in ("cpu_offload", "vae_tiling"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"options.{name} must be true or false; got {getattr(self, name)!r}")
        for name, low, high in (("steps", 1, 500), ("audio_steps", 1, 500), ("max_frames", 2, 1000)):
            _check_int(name, getattr(self, name), low, high)
        for name in ("width", "height"):
            _check_int(name, getattr(self, name), 16, 2048)
            if getattr(self, name) % 16:
                raise InputError(f"options.{name} must be a multiple of 16 (32 suits every supported pipeline); "
                                 f"got {getattr(self, name)}")
        check_guidance(self.guidance, "options.guidance")
        if not isinstance(self.negative_prompt, str):
            raise InputError("options.negative_prompt must be text, e.g. 'blurry, distorted'")
        if self.audio_model is not None and not isinstance(self.audio_model, str):
            raise InputError("options.audio_model must be a folder path as a string")


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"options.{name} must be a whole number from {low} to {high}; got {value!r}")


def pipeline_class_name(folder: Path) -> str:
    index = Path(folder) / "model_index.json"
    if not index.is_file():
        raise InputError(
            f"model: {folder} has no model_index.json; pass a diffusers pipeline folder saved with save_pretrained"
        )
    name = json.loads(index.read_text()).get("_class_name", "")
    if name not in KINDS:
        raise InputError(f"model: {folder} holds a {name or 'unknown'} pipeline; supported: {', '.join(KINDS)}")
    return name


def frame_count(seconds: float, kind: PipelineKind, max_frames: int) -> int:
    """Frames to ask for: the native rate over `seconds`, capped, snapped to multiple*k + 1."""
    wanted = min(max_frames, round(seconds * kind.native_fps))
    k = max(1, round((wanted - 1) / kind.frame_multiple))
    while kind.frame_multiple * k + 1 > max_frames and k > 1:
        k -= 1
    return kind.frame_multiple * k + 1


class PretrainedBackend:
    """A diffusers video pipeline behind the lab's Backend protocol."""

    name = "pretrained"

    def __init__(self, folder: str | Path, options: PretrainedOptions | None = None):
        import torch
        from diffusers import DiffusionPipeline

        self.folder = Path(folder).expanduser().resolve()
        self.options = options or PretrainedOptions()
        self.class_name = pipeline_class_name(self.folder)
        self.kind = KINDS[self.class_name]
        self.model_id = f"{self.class_name}:{self.folder.name}"
        cuda = torch.cuda.is_available()
        self.device = self.options.device or ("cuda" if cuda else "cpu")
        if self.device.startswith("cuda") and not cuda:
            raise InputError("device: CUDA was requested but no GPU is visible; use device='cpu'")
        dtype_name = self.options.dtype or ("bfloat16" if self.device.startswith("cuda") else "float32")
        self.dtype = getattr(torch, dtype_name)
        # safetensors only: loading a folder must never unpickle (run) code from it.
        self.pipe = DiffusionPipeline.from_pretrained(
            str(self.folder), local_files_only=True, use_safetensors=True, **_dtype_kwarg(self.dtype)
        )
        self.pipe.set_progress_bar_config(disable=True)
        if self.options.cpu_offload and self.device.startswith("cuda"):
            self.pipe.enable_model_cpu_offload()
        else:
            self.pipe.to(self.device)
        if self.options.vae_tiling and hasattr(self.pipe.vae, "enable_tiling"):
            self.pipe.vae.enable_tiling()
        self._image_pipe = self.pipe if self.kind.mode == "i2v" else None
        self.ambience = None
        if self.options.audio_model:
            from sora_lab.generate.audio import AmbienceModel

            self.ambience = AmbienceModel(self.options.audio_model, steps=self.options.audio_steps, device=self.device)

    def _pipeline_for(self, reference: np.ndarray | None):
        if reference is None:
            if self.kind.mode == "i2v":
                raise InputError(
                    f"model: {self.class_name} is image-to-video and needs a reference; pass a cameo "
                    "or load a text-to-video folder"
                )
            return self.pipe
        if self._image_pipe is None:
            if self.kind.image_sibling is None:
                raise InputError(
                    f"model: {self.class_name} cannot take a cameo reference; load the matching "
                    "image-to-video folder (e.g. Wan2.1-I2V) with --model"
                )
            import diffusers

            self._image_pipe = getattr(diffusers, self.kind.image_sibling).from_pipe(self.pipe)
            self._image_pipe.set_progress_bar_config(disable=True)
        return self._image_pipe

    def render(
        self,
        prompt: str,
        *,
        seconds: float,
        seed: int,
        reference: np.ndarray | None = None,
        progress: Progress | None = None,
    ) -> Clip:
        import torch
        from PIL import Image

        pipe = self._pipeline_for(reference)
        opts = self.options
        n_frames = frame_count(seconds, self.kind, opts.max_frames)
        steps = opts.steps

        def on_step(_pipe, step: int, _timestep, tensors: dict) -> dict:
            if progress is not None:
                progress(step + 1, steps)
            return tensors

        params = inspect.signature(pipe.__call__).parameters
        kwargs = {
            "prompt": prompt,
            "negative_prompt": opts.negative_prompt,
            "num_frames": n_frames,
            "num_inference_steps": steps,
            "guidance_scale": opts.guidance,
            "generator": torch.Generator(device="cpu").manual_seed(int(seed)),
            "output_type": "np",
            "callback_on_step_end": on_step,
        }
        for key, value in (("height", opts.height), ("width", opts.width), ("frame_rate", self.kind.native_fps)):
            if key in params:
                kwargs[key] = value
        if reference is not None:
            kwargs["image"] = Image.fromarray(_cover(reference, opts.width, opts.height))
            if "max_area" in params:
                kwargs["max_area"] = opts.width * opts.height
        with torch.inference_mode():
            video = pipe(**kwargs).frames[0]
        frames = np.clip(np.asarray(video, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Clip(
            frames=frames,
            fps=frames.shape[0] / seconds,
            meta={
                "pipeline": type(pipe).__name__,
                "folder": str(self.folder),
                "steps": steps,
                "guidance": opts.guidance,
                "native_fps": self.kind.native_fps,
                "device": self.device,
                "dtype": str(self.dtype).removeprefix("torch."),
                "image_conditioned": reference is not None,
            },
        )


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop and resize an RGB image to exactly width x height (no distortion)."""
    import cv2

    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    resized = cv2.resize(
        image, (max(width, round(w * scale)), max(height, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    y0 = (resized.shape[0] - height) // 2
    x0 = (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def _dtype_kwarg(dtype) -> dict:
    """diffusers renamed `torch_dtype` to `dtype` (0.36+); use whichever this version speaks."""
    import diffusers.utils.deprecation_utils as deprecation

    return {"dtype": dtype} if hasattr(deprecation, "_resolve_dtype") else {"torch_dtype": dtype}
