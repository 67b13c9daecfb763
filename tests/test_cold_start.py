"""A cold `sora-lab generate` loads only what the request needs (issue 36; the figure is in
benchmarks/generate.py --cold): no diffusers or transformers (the tiny model and MiniLM run in plain
torch, tested equal in test_tiny_wan.py and below), no scipy, sklearn, matplotlib, pandas, server,
HTTP client or Ray."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sora_lab.cli import main as cli_main
from sora_lab.core import embeddings
from sora_lab.core.arrays import median

NOT_ON_THE_GENERATE_PATH = ["diffusers", "transformers", "sentence_transformers", "scipy", "sklearn", "matplotlib",
                            "pandas", "pyarrow", "fastapi", "uvicorn", "httpx", "ray", "nltk", "skimage", "numpy.ma",
                            "fpdf"]

_GENERATE_THEN_LIST = """
import json, os, sys
home, watched = sys.argv[1], json.loads(sys.argv[2])
leave = os._exit


def report_then_leave(code):  # main() ends a command that loaded torch with os._exit: report just before
    print(json.dumps({"loaded": [m for m in watched if m in sys.modules], "quick_exit": code}), flush=True)
    leave(code)


os._exit = report_then_leave
sys.argv = ["sora-lab", "generate", "a crimson orb drifts left over teal", "--seconds", "2", "--seed", "0",
            "--home", home, "--quiet", "--json"]
from sora_lab.cli.main import main

main()
"""


def test_a_cold_cli_generate_imports_nothing_it_does_not_use(tmp_path):
    """A prompt with words training never used, so the prompt reader, the colour-name and training-word
    tables run too (they ship as JSON: no matplotlib, scikit-image or scikit-learn)."""
    home = str(tmp_path / "lab")
    subprocess.run([sys.executable, "-m", "sora_lab.cli", "init", "--home", home, "--json"], check=True,
                   capture_output=True, timeout=300)
    done = subprocess.run([sys.executable, "-c", _GENERATE_THEN_LIST, home, json.dumps(NOT_ON_THE_GENERATE_PATH)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    video, report = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert video["status"] == "published" and video["duration"] == 2.0 and video["read_as"]
    assert report == {"loaded": [], "quick_exit": 0}  # and the output above it was written before leaving


def test_the_script_still_fails_with_its_exit_code_and_message(tmp_path):
    """A refused command (here before torch loads, so Python ends as usual) exits 1 with one error line."""
    home = str(tmp_path / "lab")
    subprocess.run([sys.executable, "-m", "sora_lab.cli", "init", "--home", home, "--json"], check=True,
                   capture_output=True, timeout=300)
    done = subprocess.run([sys.executable, "-m", "sora_lab.cli", "generate", "a red ball", "--seconds", "999",
                           "--home", home, "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["message"].startswith("seconds: 999.0 is out of range")
    assert done.stderr.startswith("error: seconds")


@pytest.mark.parametrize(("ending", "code"), [(None, 0), (0, 0), (1, 1), (2, 2)])
def test_quick_exit_keeps_the_exit_code_and_flushes(monkeypatch, ending, code):
    """With torch loaded and only daemon threads left, main() leaves by os._exit with the command's code."""
    flushed, left = [], []

    def command():
        print("the answer")
        raise SystemExit(ending)

    monkeypatch.setattr(cli_main, "app", command)
    monkeypatch.setattr(sys.stdout, "flush", lambda: flushed.append("stdout"))
    monkeypatch.setattr(cli_main.os, "_exit", left.append)
    cli_main.main()
    assert left == [code] and "stdout" in flushed


def test_no_quick_exit_while_a_thread_still_works(monkeypatch):
    monkeypatch.setattr(cli_main, "app", lambda: None)
    monkeypatch.setattr(cli_main.os, "_exit", lambda code: pytest.fail("left while a thread was working"))
    release = threading.Event()
    worker = threading.Thread(target=release.wait)  # not a daemon: Python must wait for it
    worker.start()
    try:
        with pytest.raises(SystemExit) as ended:
            cli_main.main()
        assert ended.value.code == 0
    finally:
        release.set()
        worker.join()


def test_token_states_without_sentence_transformers_are_the_same_bit_for_bit(monkeypatch):
    texts = ["a red ball bounces on a navy background", "a crimson orb drifts left over teal", "x " * 300]
    monkeypatch.setattr(embeddings, "_loaded", {})  # no SentenceTransformer yet: the plain-torch MiniLM
    plain, plain_mask = embeddings.token_states(texts)
    reference, reference_mask = embeddings.token_states_of(embeddings._model(), texts)
    assert plain.shape == (3, 256, 384)  # the long one is cut at MiniLM's max_seq_length
    assert torch.equal(plain, reference) and torch.equal(plain_mask, reference_mask)
    shared, _ = embeddings.token_states(texts)  # now the loaded SentenceTransformer's own parts serve it
    assert torch.equal(shared, reference)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=80), min_size=1, max_size=4))
def test_plain_minilm_reads_any_text_as_sentence_transformers_does(texts):
    """Tokens and states for any text (accents, emoji, control characters, empty strings, a batch with
    padding): the plain-torch MiniLM (core/minilm.py) against the SentenceTransformer's own model."""
    plain, plain_mask = embeddings._minilm("cpu").states(texts)
    reference, reference_mask = embeddings.token_states_of(embeddings._model(), texts)
    assert torch.equal(plain_mask, reference_mask)
    assert torch.equal(plain, reference)


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(st.sampled_from([np.uint8, np.float32, np.int16]),
                  hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=9),
                  elements={"min_value": 0, "max_value": 255}))
def test_median_without_numpy_ma_is_numpys_median(values):
    got, expected = median(values, axis=0), np.median(values, axis=0)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
