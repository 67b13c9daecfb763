"""How much of each attribute a text encoder carries for prompts the model never trained on.

Why: before spending hours training the denoiser, ask the text side. Per attribute, a small
readout (four learned queries attending over the prompt's token states, then a linear layer:
the way the denoiser's cross-attention reads text) is fitted on training captions (core grammar
plus the training-only wording), then reads the attributes of an eval file's prompts. Where the
readout cannot tell that "crimson" is red, a denoiser trained on the same captions has little to
go on either; where it can and the model cannot, the denoiser is what to fix. An estimate, not a
strict bound. Seconds on a CPU, and it takes any local sentence-transformers folder, so a bigger
encoder can be judged before anything is retrained on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.captions import sample_scene
from sora_lab.generate.tiny.evaluate import ALLOWED, ATTRIBUTES
from sora_lab.generate.tiny.model import MAX_TEXT_TOKENS

# texts -> (token states (n, L, d) float32, attention mask (n, L)), like sora_lab.core.embeddings.token_states
Encoder = Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]]
QUERIES, EPOCHS, BATCH = 4, 15, 128


def training_captions(n: int, *, seed: int = 0, p_extra: float = 0.5) -> tuple[list[str], dict[str, list[str]]]:
    """`n` one-object training scenes, drawn by the trainer's own sampler: captions and true attributes."""
    rng = np.random.default_rng(seed)
    captions, labels = [], {key: [] for key in ATTRIBUTES}
    for _ in range(n):
        scene = sample_scene(rng, p_two=0.0, p_reference=0.0, p_extra=p_extra)
        obj = scene.objects[0]
        captions.append(scene.caption)
        for key, value in zip(ATTRIBUTES, (obj.color, obj.shape, obj.motion, scene.background), strict=True):
            labels[key].append(value)
    return captions, labels


def local_encoder(folder: Path, layer: int | None = None) -> Encoder:
    """Token states from a sentence-transformers model in a local folder (nothing is fetched);
    `layer` reads a hidden layer instead of the last one, which is what the denoiser reads."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--encoder: {folder} is not a folder; point it at a saved sentence-transformers model")
    from sora_lab.core.embeddings import offline_and_quiet, token_states_of

    offline_and_quiet()
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as exc:  # any loader failure means the folder is not a usable model
        raise InputError(f"--encoder: {folder} did not load as a sentence-transformers model ({exc})") from None
    if layer is not None:
        depth = model[0].auto_model.config.num_hidden_layers
        if not 0 <= layer <= depth:
            raise InputError(f"--layer must be between 0 (word embeddings) and {depth} (the last layer) "
                             f"of this encoder; got {layer}")
    return lambda texts: token_states_of(model, texts, layer=layer)


def encode_padded(encoder: Encoder, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token states cut or padded to the denoiser's MAX_TEXT_TOKENS, in batches of 256."""
    states, masks = [], []
    for start in range(0, len(texts), 256):
        s, m = encoder(texts[start:start + 256])
        s, m = s[:, :MAX_TEXT_TOKENS].float().cpu(), m[:, :MAX_TEXT_TOKENS].bool().cpu()
        pad = MAX_TEXT_TOKENS - s.shape[1]
        states.append(torch.nn.functional.pad(s, (0, 0, 0, pad)))
        masks.append(torch.nn.functional.pad(m, (0, pad)))
    return torch.cat(states), torch.cat(masks)


class Readout(torch.nn.Module):
    """Learned queries attend over the prompt's tokens; a linear layer names the attribute value."""

    def __init__(self, dim: int, classes: int):
        super().__init__()
        self.queries = torch.nn.Parameter(torch.randn(QUERIES, dim) * 0.05)
        self.head = torch.nn.Linear(QUERIES * dim, classes)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = torch.einsum("qd,bld->bql", self.queries, states) / states.shape[-1] ** 0.5
        weights = scores.masked_fill(~mask[:, None], float("-inf")).softmax(-1)
        return self.head(torch.einsum("bql,bld->bqd", weights, states).flatten(1))


def fit_readout(states: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor, classes: int, seed: int) -> Readout:
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        readout = Readout(states.shape[-1], classes)
    optimizer = torch.optim.AdamW(readout.parameters(), lr=3e-3, weight_decay=1e-2)
    for _ in range(EPOCHS):
        order = torch.randperm(len(states), generator=generator)
        for start in range(0, len(states), BATCH):
            idx = order[start:start + BATCH]
            loss = torch.nn.functional.cross_entropy(readout(states[idx], mask[idx]), targets[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return readout.eval()


def check_captions(n_captions: int) -> None:
    if n_captions < 200:
        raise InputError(f"--captions must be at least 200 (got {n_captions}): fewer cannot cover every attribute")


def fit_readouts(encoder: Encoder, *, n_captions: int, seed: int, p_extra: float,
                 keys: tuple[str, ...] = ATTRIBUTES) -> dict[str, tuple[list[str], Readout]]:
    """For each attribute in `keys`, its values and a readout fitted on `n_captions` one-object training
    captions (attribute k of ATTRIBUTES uses seed * 10 + k, so a subset fits the same readouts)."""
    check_captions(n_captions)
    captions, labels = training_captions(n_captions, seed=seed, p_extra=p_extra)
    states, mask = encode_padded(encoder, captions)
    readouts = {}
    for k, key in enumerate(ATTRIBUTES):
        if key in keys:
            classes = sorted(ALLOWED[key])
            targets = torch.tensor([classes.index(value) for value in labels[key]])
            readouts[key] = (classes, fit_readout(states, mask, targets, len(classes), seed * 10 + k))
    return readouts


def probe_text(rows: list[dict], *, encoder: Encoder | None = None, n_captions: int = 4000, seed: int = 0,
               p_extra: float = 0.5) -> dict:
    """Per-attribute accuracy of the readouts on `rows` (eval-file items) and the share of prompts with
    every expected attribute right, comparable with `sora-lab model eval`'s adherence."""
    check_captions(n_captions)
    if not any(row.get("expect") for row in rows):
        raise InputError("--prompts: no line has an \"expect\" object, so there is nothing to read; "
                         "add e.g. {\"color\": \"red\"} to the lines to probe")
    if encoder is None:
        from sora_lab.core.embeddings import token_states as encoder
    start = time.perf_counter()
    keys = tuple(key for key in ATTRIBUTES if any(key in row.get("expect", {}) for row in rows))
    readouts = fit_readouts(encoder, n_captions=n_captions, seed=seed, p_extra=p_extra, keys=keys)
    eval_states, eval_mask = encode_padded(encoder, [row["prompt"] for row in rows])
    right = np.ones(len(rows), dtype=bool)
    per_attribute, items = {}, [{"prompt": row["prompt"], "read": {}} for row in rows]
    for key, (classes, readout) in readouts.items():
        asked = [i for i, row in enumerate(rows) if key in row.get("expect", {})]
        with torch.no_grad():
            read = readout(eval_states[asked], eval_mask[asked]).argmax(-1).tolist()
        hits = 0
        for i, c in zip(asked, read, strict=True):
            ok = classes[c] == rows[i]["expect"][key]
            hits += ok
            right[i] &= ok
            items[i]["read"][key] = classes[c]
        per_attribute[key] = {"accuracy": hits / len(asked), "n": len(asked), "chance": 1 / len(classes)}
    for item, ok in zip(items, right, strict=True):
        item["all_right"] = bool(ok)
    return {"n": len(rows), "adherence": float(right.mean()), "per_attribute": per_attribute,
            "training_captions": n_captions, "p_extra_wording": p_extra, "embedding_dim": int(eval_states.shape[2]),
            "seconds": round(time.perf_counter() - start, 2), "items": items}
