"""The one-text path (a traced MiniLM) must give exactly what the eager model gives."""

from __future__ import annotations

import numpy as np
import pytest

from sora_lab.embeddings import _model, embed

TEXTS = [
    "@maya surfing at dawn",
    "",
    "Ünïcödé café — 東京の夜景, emoji 🎬",
    "a red ball " * 200,  # longer than the model's 256 tokens: truncated the same way on both paths
]


@pytest.mark.parametrize("text", TEXTS, ids=["short", "empty", "unicode", "truncated"])
def test_single_text_matches_the_eager_model(text):
    import torch

    model = _model()
    with torch.inference_mode():
        eager = model(model.preprocess([text]))["sentence_embedding"].numpy()[0]
    single = embed(text)[0]
    assert single.shape == (384,) and single.dtype == np.float32
    np.testing.assert_allclose(single, eager, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(single), 1.0, atol=1e-5)


def test_single_text_agrees_with_a_padded_batch():
    texts = ["a cat", "a much longer prompt about a dog running across a wide green field"]
    batch = embed(texts)
    singles = np.stack([embed(t)[0] for t in texts])
    np.testing.assert_allclose(singles, batch, atol=1e-5)  # padding changes float sums slightly, not meaning
