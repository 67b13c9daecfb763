"""How much of each attribute a text encoder carries for prompts the model never trained on.

Why: before spending hours training the denoiser, ask the text side. One linear readout per
attribute is fitted on sentence embeddings of training captions (core grammar plus the
training-only wording), then it reads the attributes of an eval file's prompts. Where that
readout cannot tell that "crimson" is red, a denoiser trained on the same captions has
little to go on either; where it can and the model cannot, the denoiser is what to fix.
It is an estimate, not a strict bound: the denoiser attends over per-token states, not one
pooled vector. Seconds on a CPU, and it takes any local sentence-transformers folder, so a
bigger encoder can be judged before anything is retrained on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sora_lab.errors import InputError
from sora_lab.generate.tiny.captions import caption_one, training_triples
from sora_lab.generate.tiny.evaluate import ATTRIBUTES
from sora_lab.generate.tiny.world import BACKGROUNDS, ObjectSpec

Encoder = Callable[[list[str]], np.ndarray]


def training_captions(n: int, *, seed: int = 0, p_extra: float = 0.5) -> tuple[list[str], dict[str, list[str]]]:
    """`n` one-object training captions and their true attributes, drawn like the trainer draws them."""
    rng = np.random.default_rng(seed)
    triples, backgrounds = training_triples(), list(BACKGROUNDS)
    captions, labels = [], {key: [] for key in ATTRIBUTES}
    for _ in range(n):
        color, shape, motion = triples[int(rng.integers(len(triples)))]
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        captions.append(caption_one(ObjectSpec(color, shape, motion), background, rng, p_extra))
        for key, value in zip(ATTRIBUTES, (color, shape, motion, background), strict=True):
            labels[key].append(value)
    return captions, labels


def local_encoder(folder: Path) -> Encoder:
    """A sentence-transformers model from a local folder (nothing is fetched), as unit-length embeddings."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--encoder: {folder} is not a folder; point it at a saved sentence-transformers model")
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as exc:  # any loader failure means the folder is not a usable model
        raise InputError(f"--encoder: {folder} did not load as a sentence-transformers model ({exc})") from None
    return lambda texts: model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True)


def probe_text(rows: list[dict], *, encoder: Encoder | None = None, n_captions: int = 4000, seed: int = 0,
               p_extra: float = 0.5) -> dict:
    """Per-attribute accuracy of linear readouts on `rows` (eval-file items) and the share of prompts
    with every expected attribute right, comparable with `sora-lab model eval`'s adherence."""
    from sklearn.linear_model import LogisticRegression

    if n_captions < 200:
        raise InputError(f"--captions must be at least 200 (got {n_captions}): fewer cannot cover every attribute")
    if encoder is None:
        from sora_lab.embeddings import embed as encoder
    start = time.perf_counter()
    captions, labels = training_captions(n_captions, seed=seed, p_extra=p_extra)
    train_x = np.asarray(encoder(captions), dtype=np.float32)
    eval_x = np.asarray(encoder([row["prompt"] for row in rows]), dtype=np.float32)
    right = np.ones(len(rows), dtype=bool)
    per_attribute, items = {}, [{"prompt": row["prompt"], "read": {}} for row in rows]
    for key in ATTRIBUTES:
        asked = [i for i, row in enumerate(rows) if key in row.get("expect", {})]
        if not asked:
            continue
        readout = LogisticRegression(max_iter=2000).fit(train_x, labels[key])
        read = readout.predict(eval_x[asked])
        hits = 0
        for i, value in zip(asked, read, strict=True):
            ok = value == rows[i]["expect"][key]
            hits += ok
            right[i] &= ok
            items[i]["read"][key] = str(value)
        per_attribute[key] = {"accuracy": hits / len(asked), "n": len(asked), "chance": 1 / len(readout.classes_)}
    for item, ok in zip(items, right, strict=True):
        item["all_right"] = bool(ok)
    return {"n": len(rows), "adherence": float(right.mean()) if rows else 0.0, "per_attribute": per_attribute,
            "training_captions": n_captions, "p_extra_wording": p_extra, "embedding_dim": int(train_x.shape[1]),
            "seconds": round(time.perf_counter() - start, 2), "items": items}
