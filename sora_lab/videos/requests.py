"""A generation request, checked and normalised before anything is queued or rendered.

Every refusal names the field and the fix, so a bad request costs no queue slot and no model time.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, fields

from sora_lab.core.errors import InputError, PolicyViolation
from sora_lab.core.limits import MAX_CAMEOS, MAX_PROMPT_CHARS
from sora_lab.core.text import clean_text, handle_key
from sora_lab.generate import postprocess
from sora_lab.generate.backends import BACKENDS
from sora_lab.generate.base import check_guidance
from sora_lab.generate.pretrained import PretrainedOptions


@dataclass(frozen=True)
class GenerationRequest:
    """What to render (prompt, length, seed, cameo handles, backend), and how to file it (draft, parent)."""

    prompt: str
    seconds: float
    seed: int
    cameos: list[str]
    backend: str
    model: str | None
    options: dict
    draft: bool
    parent_id: str | None = None


def clean_request(
    *,
    prompt: str,
    seconds: float,
    seed: int | None,
    cameos: list[str] | None,
    backend: str,
    model: str | None,
    draft: bool,
    options: dict | None = None,
    parent_id: str | None = None,
) -> GenerationRequest:
    """Check every field and normalise it: a stripped prompt, a random seed when none is given, bare lowercase
    cameo handles (no '@'), and pretrained options already validated by PretrainedOptions."""
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        raise InputError("prompt: describe the clip, e.g. 'a red ball bounces on a navy background'")
    prompt = clean_text(prompt, "prompt", max_chars=MAX_PROMPT_CHARS, multiline=True)  # controls, bidi, NFC
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InputError("seconds: give a number of seconds, e.g. 10")
    postprocess.timeline_for(float(seconds))
    if seed is None:
        seed = secrets.randbelow(2**31)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InputError("seed: give a non-negative integer, or leave it out for a random one")
    cameos = list(cameos or [])
    if len(cameos) > MAX_CAMEOS or not all(isinstance(c, str) and c.strip() for c in cameos):
        raise InputError(f"cameos: give up to {MAX_CAMEOS} cameo handles, e.g. ['maya']")
    if backend not in BACKENDS:
        raise InputError(f"backend: {backend!r} is not known; choose one of {', '.join(BACKENDS)}")
    if model is not None and not isinstance(model, str):
        raise InputError("model: give a folder path as a string")
    options = dict(options or {})
    if options:
        _check_options(backend, options)
    return GenerationRequest(
        prompt=prompt.strip(),
        seconds=float(seconds),
        seed=int(seed),
        cameos=[handle_key(c) for c in cameos],
        backend=backend,
        model=model,
        options=options,
        draft=bool(draft),
        parent_id=parent_id,
    )


def remix_request(
    parent: dict, *, prompt: str, seconds: float | None, seed: int | None, cameos: list[str] | None, draft: bool,
    options: dict | None = None,
) -> GenerationRequest:
    """A remix of `parent` (a stored video row the caller may see): rendered by the parent's backend
    (its pretrained folder when the provenance still names one, else the tiny model) with `options` for
    that backend, as long as the parent unless `seconds` says otherwise, and filed with the parent as its lineage."""
    backend = parent["backend"] if parent["backend"] in BACKENDS else "tiny"
    model = None
    if backend == "pretrained":
        model = (json.loads(parent["provenance"] or "{}").get("clip") or {}).get("folder")
        if model is None:
            backend = "tiny"
    return clean_request(
        prompt=prompt,
        seconds=seconds if seconds is not None else parent["duration_ms"] / 1000,
        seed=seed,
        cameos=cameos,
        backend=backend,
        model=model,
        draft=draft,
        options=options,
        parent_id=parent["video_id"],
    )


def enforce_policy(policy, *, prompt: str, actor_id: str, cameos: list[str]) -> dict:
    """The prompt policy's decision (cameo ids it found, instructions), or PolicyViolation with its reasons."""
    decision = policy.check(prompt=prompt, actor_id=actor_id, cameos=cameos or None)
    if not decision.get("allowed"):
        reasons = decision.get("reasons") or []
        summary = "; ".join(r.get("message", r.get("code", "")) for r in reasons) or "refused by the prompt policy"
        raise PolicyViolation(f"prompt refused: {summary}", reasons)
    return decision


TINY_OPTIONS = ("steps", "guidance", "shift")
"""What the tiny model takes per request (sora_lab.generate.tiny.backend.TinyBackend); sweeps vary them."""


def _check_options(backend: str, options: dict) -> None:
    """Options are refused here, naming the field, before anything is queued (not minutes later)."""
    known = set(TINY_OPTIONS) if backend == "tiny" else {f.name for f in fields(PretrainedOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"options: unknown {', '.join(unknown)} for the {backend} backend; known: "
                         f"{', '.join(sorted(known))}")
    if backend == "pretrained":
        PretrainedOptions(**options)
        return
    steps = options.get("steps", 1)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 200:
        raise InputError(f"options.steps: give a whole number of sampling steps from 1 to 200; got {steps!r}")
    check_guidance(options.get("guidance", 1.0), "options.guidance")
    shift = options.get("shift", 1.0)
    if isinstance(shift, bool) or not isinstance(shift, int | float) or not 0 < shift <= 100:
        raise InputError(f"options.shift: give a positive number up to 100; got {shift!r}")
