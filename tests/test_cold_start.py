"""A cold `sora-lab generate` loads only what the request needs (issue 36; the figure is in
benchmarks/generate.py --cold): no sentence-transformers, sklearn, matplotlib, pandas, server or Ray."""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from sora_lab.core import embeddings

NOT_ON_THE_GENERATE_PATH = ["sentence_transformers", "sklearn", "matplotlib", "pandas", "pyarrow", "fastapi",
                            "uvicorn", "ray", "nltk", "skimage"]

_GENERATE_THEN_LIST = """
import json, runpy, sys
home, watched = sys.argv[1], json.loads(sys.argv[2])
sys.argv = ["sora-lab", "generate", "a red ball bounces on a navy background", "--seconds", "2", "--seed", "0",
            "--home", home, "--quiet", "--json"]
try:
    runpy.run_module("sora_lab.cli", run_name="__main__")
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps({"loaded": [m for m in watched if m in sys.modules]}))
"""


def test_a_cold_cli_generate_imports_nothing_it_does_not_use(tmp_path):
    home = str(tmp_path / "lab")
    subprocess.run([sys.executable, "-m", "sora_lab.cli", "init", "--home", home, "--json"], check=True,
                   capture_output=True, timeout=300)
    done = subprocess.run([sys.executable, "-c", _GENERATE_THEN_LIST, home, json.dumps(NOT_ON_THE_GENERATE_PATH)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    video, report = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert video["status"] == "published" and video["duration"] == 2.0
    assert report["loaded"] == []


def test_token_states_without_sentence_transformers_are_the_same_bit_for_bit(monkeypatch):
    texts = ["a red ball bounces on a navy background", "a crimson orb drifts left over teal", "x " * 300]
    monkeypatch.setattr(embeddings, "_loaded", {})  # no SentenceTransformer yet: the plain transformers path
    plain, plain_mask = embeddings.token_states(texts)
    reference, reference_mask = embeddings.token_states_of(embeddings._model(), texts)
    assert plain.shape == (3, 256, 384)  # the long one is cut at MiniLM's max_seq_length
    assert torch.equal(plain, reference) and torch.equal(plain_mask, reference_mask)
    shared, _ = embeddings.token_states(texts)  # now the loaded SentenceTransformer's own parts serve it
    assert torch.equal(shared, reference)
