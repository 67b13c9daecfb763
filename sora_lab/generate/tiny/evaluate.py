"""Prompt adherence of the tiny model, measured from pixels.

An eval file is JSON lines: {"prompt": "...", "expect": {"color": .., "shape": .., "motion": ..,
"background": ..}} with any subset of those keys, plus optionally "seed" (default: line number)
and a cameo reference: "reference_seed" (a procedural face, `make_face_sprite(seed)`) or
"reference" (path to an RGB image). The evaluator generates every clip, reads it back with
`measure.measure_clip` (which never sees the prompt), and reports accuracy per attribute and
`adherence` = share of prompts with every expected attribute right, each with a 95% interval:
eval sets hold 24-200 prompts, so a few prompts move a score by several points and a target
should be read against the interval, not the point. `samples` > 1 draws each prompt that many
times with different seeds; the interval still counts prompts (draws of one prompt are not
independent), and `consistent` is the share of prompts right in every draw.

For reference prompts it also reports fidelity: the mean RGB error between the moving object
and the reference, and identification — whether the reference is closer to the object than
8 other procedural faces are.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.measure import measure_clip, reference_error
from sora_lab.generate.tiny.world import BACKGROUNDS, COLORS, MOTIONS, SHAPES, make_face_sprite

ATTRIBUTES = ("color", "shape", "motion", "background")
ALLOWED = {"color": set(COLORS), "shape": set(SHAPES), "motion": set(MOTIONS), "background": set(BACKGROUNDS)}
N_DISTRACTORS = 8
SAMPLE_SEED_STRIDE = 100_000  # draw k of a prompt uses seed + k * stride, far from any other line's seed


def load_prompts(path: Path) -> list[dict]:
    """Read and validate an eval JSONL file; errors name the line and the field."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"--prompts: no such file {path}")
    items = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str) or not item["prompt"].strip():
            raise InputError(f"{path}:{n}: each line needs a non-empty \"prompt\" string")
        expect = item.get("expect", {})
        if not isinstance(expect, dict):
            raise InputError(f"{path}:{n}: \"expect\" must be an object like {{\"color\": \"red\"}}")
        for key, value in expect.items():
            if key not in ALLOWED:
                raise InputError(f"{path}:{n}: unknown expect key {key!r}; use any of {list(ATTRIBUTES)}")
            if value not in ALLOWED[key]:
                raise InputError(f"{path}:{n}: expect.{key} = {value!r} is not one of {sorted(ALLOWED[key])}")
        if "reference" in item:
            ref_path = Path(item["reference"])
            if not ref_path.is_absolute():
                ref_path = path.parent / ref_path
            if not ref_path.exists():
                raise InputError(f"{path}:{n}: reference image {ref_path} does not exist")
            item["reference"] = str(ref_path)
        item.setdefault("seed", n)
        items.append(item)
    if not items:
        raise InputError(f"{path}: no prompts found (one JSON object per line)")
    return items


def reference_image(item: dict) -> np.ndarray | None:
    if "reference_seed" in item:
        return make_face_sprite(int(item["reference_seed"]))
    if "reference" in item:
        bgr = cv2.imread(item["reference"], cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"reference {item['reference']} is not a readable image")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return None


def score_clip(frames: np.ndarray, expect: dict, reference: np.ndarray | None = None,
               distractor_seed: int = 0) -> dict:
    """Measure one clip and compare with the expected attributes (and the reference, if any)."""
    m = measure_clip(frames)
    got = m.as_dict()
    right = {k: got.get(k) == v for k, v in expect.items()}
    out = {"measured": {k: got.get(k) for k in ATTRIBUTES}, "right": right, "all_right": all(right.values()),
           "details": {k: v for k, v in got.items() if k not in ATTRIBUTES}}
    if reference is not None:
        err = reference_error(frames, reference, m.track)
        others = [reference_error(frames, make_face_sprite(10_000 + distractor_seed * N_DISTRACTORS + k), m.track)
                  for k in range(N_DISTRACTORS)]
        out["reference_error"] = round(err, 2) if np.isfinite(err) else None
        out["reference_identified"] = bool(np.isfinite(err) and err < min(others))
    return out


def wilson_interval(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% score interval (Wilson) for a share measured on n prompts. Unlike share +- z*SE it stays
    inside [0, 1] and does not collapse to a point at 0 or 1, which matters at 24-200 prompts."""
    if n < 1:
        raise ValueError("an interval needs at least one prompt")
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)


def _share(marks: list[bool], prompts: int) -> dict:
    share = float(np.mean(marks))
    return {"accuracy": round(share, 4), "n": prompts, "ci95": list(wilson_interval(share, prompts))}


def summarize(results: list[dict]) -> dict:
    """Per-attribute accuracy, adherence (each with a 95% interval over prompts) and reference
    fidelity over scored results; results of one prompt share an "index"."""
    results = [{"index": i, **r} for i, r in enumerate(results)]  # a result without an index is its own prompt
    per = {}
    for key in ATTRIBUTES:
        scored = [r for r in results if key in r["right"]]
        if scored:
            per[key] = _share([r["right"][key] for r in scored], len({r["index"] for r in scored}))
    by_prompt: dict = {}
    for r in results:
        by_prompt.setdefault(r["index"], []).append(r["all_right"])
    overall = _share([r["all_right"] for r in results], len(by_prompt))
    summary = {"n": len(by_prompt), "clips": len(results), "adherence": overall["accuracy"],
               "adherence_ci95": overall["ci95"], "per_attribute": per}
    if any(len(marks) > 1 for marks in by_prompt.values()):
        summary["consistent"] = round(float(np.mean([all(marks) for marks in by_prompt.values()])), 4)
    refs = [r for r in results if "reference_identified" in r]
    if refs:
        errors = [r["reference_error"] for r in refs if r["reference_error"] is not None]
        summary["reference"] = {
            "n": len(refs),
            "mean_rgb_error": round(float(np.mean(errors)), 2) if errors else None,
            "identification": round(float(np.mean([r["reference_identified"] for r in refs])), 4),
            "chance": round(1 / (N_DISTRACTORS + 1), 4)}
    return summary


def evaluate(render: Callable[[list[str], list[int], list[np.ndarray | None]], np.ndarray], items: list[dict], *,
             batch_size: int = 8, samples: int = 1, progress: Callable[[int, int], None] | None = None) -> dict:
    """Generate every prompt `samples` times with `render(prompts, seeds, references) -> (B,T,H,W,3)`
    and score each clip."""
    if samples < 1:
        raise InputError(f"--samples must be at least 1 (draws per prompt), got {samples}")
    draws = [(index, k, it) for k in range(samples) for index, it in enumerate(items)]
    results = []
    t0 = time.perf_counter()
    for start in range(0, len(draws), batch_size):
        chunk = draws[start:start + batch_size]
        refs = [reference_image(it) for _, _, it in chunk]
        seeds = [int(it["seed"]) + k * SAMPLE_SEED_STRIDE for _, k, it in chunk]
        clips = render([it["prompt"] for _, _, it in chunk], seeds, refs)
        for (index, k, it), seed, clip, ref in zip(chunk, seeds, clips, refs, strict=True):
            scored = score_clip(clip, it.get("expect", {}), ref, distractor_seed=index)
            results.append({"index": index, "sample": k, "seed": seed, "prompt": it["prompt"],
                            "expect": it.get("expect", {}), **scored})
        if progress is not None:
            progress(min(start + batch_size, len(draws)), len(draws))
    seconds = time.perf_counter() - t0
    return {**summarize(results), "seconds": round(seconds, 1),
            "seconds_per_clip": round(seconds / max(1, len(draws)), 3), "items": results}
