"""The prompt reader: which prompts it steers, what it reads, the shipped file, and the sampler's mix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from sora_lab.cli.model import model_app
from sora_lab.core.embeddings import token_states
from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.backend import WEIGHTS_DIR, TinyBackend
from sora_lab.generate.tiny.captions import names_two_objects, sample_scene, training_vocabulary, unfamiliar_words
from sora_lab.generate.tiny.evaluate import load_prompts
from sora_lab.generate.tiny.model import TinyConfig, TinyVideoDenoiser
from sora_lab.generate.tiny.reading import READER_FILE, PromptReader
from sora_lab.generate.tiny.sampler import READING_GUIDANCE, sample
from sora_lab.generate.tiny.text_probe import training_captions
from sora_lab.generate.tiny.world import make_face_sprite

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "tiny_eval"
UNFAMILIAR = "a crimson orb drifting to the right"
GRAMMAR = "a red circle moves right on a black background"


@pytest.fixture(scope="module")
def shipped() -> PromptReader:
    return PromptReader.load(WEIGHTS_DIR / READER_FILE)


@pytest.fixture(scope="module")
def backends() -> tuple[TinyBackend, TinyBackend]:
    return (TinyBackend(device="cpu", steps=2, threads=1),
            TinyBackend(device="cpu", steps=2, threads=1, reading=False))


def test_grammar_prompts_are_never_steered_and_paraphrases_nearly_always_are():
    for name in ("grammar", "train_val", "spins_val"):
        for row in load_prompts(EVAL_DIR / f"{name}.jsonl"):
            assert unfamiliar_words(row["prompt"]) == [], (name, row["prompt"])
    for name in ("paraphrases", "paraphrases_dev", "paraphrases_dev2"):
        rows = load_prompts(EVAL_DIR / f"{name}.jsonl")
        share = np.mean([bool(unfamiliar_words(row["prompt"])) for row in rows])
        assert share >= 0.95, (name, share)  # paraphrases.jsonl has one ("a pink square shrinking down") in known words
    captions, _ = training_captions(300, seed=5, p_extra=1.0)  # the training-only wording counts as known too
    assert all(unfamiliar_words(c) == [] for c in captions)
    assert unfamiliar_words(UNFAMILIAR) == ["crimson", "orb", "drifting"]
    assert "an" in training_vocabulary() and "crimson" not in training_vocabulary()


def test_two_objects_are_told_by_the_join_training_captions_use():
    rng = np.random.default_rng(4)
    scenes = [sample_scene(rng, p_two=0.5, p_reference=0.0, p_extra=0.5) for _ in range(400)]
    assert all(names_two_objects(s.caption) == (len(s.objects) == 2) for s in scenes)
    assert names_two_objects("an emerald orb falls and a yellow box moves left")
    for one in ("a red square getting larger and larger", "a ball bobs up and down", "something crimson and round"):
        assert not names_two_objects(one), one


def test_shipped_reader_reads_training_wording_and_the_grammar(shipped):
    captions, labels = training_captions(200, seed=99, p_extra=0.5)  # a draw the reader was not fitted on
    values = shipped.read(captions)
    for key in ("color", "shape", "motion", "background"):
        right = np.mean([v[key] == truth for v, truth in zip(values, labels[key], strict=True)])
        assert right >= 0.95, (key, right)
    rows = load_prompts(EVAL_DIR / "grammar.jsonl")[:60]
    read = shipped.read([row["prompt"] for row in rows])
    assert np.mean([all(v[k] == e for k, e in row["expect"].items()) for v, row in zip(read, rows, strict=True)]) >= 0.9


def test_reading_caption_is_core_grammar():
    values = {"color": "orange", "shape": "circle", "motion": "right", "background": "gray"}
    assert PromptReader.caption(values) == "an orange circle moves right on a gray background"
    assert unfamiliar_words(PromptReader.caption(values)) == []


@pytest.mark.slow  # refits on 4000 captions: ~35 s of MiniLM on 2 cores
def test_shipped_reader_is_what_fit_reader_writes(shipped):
    """The committed file comes from `model fit-reader` with its recorded settings (no hand edits)."""
    assert shipped.fit_settings == {"captions": 4000, "seed": 0, "p_extra": 0.5}
    refit = PromptReader.fit(**{"n_captions": 4000, "seed": 0, "p_extra": 0.5})
    prompts = [row["prompt"] for name in ("paraphrases_dev", "paraphrases_dev2")
               for row in load_prompts(EVAL_DIR / f"{name}.jsonl")]
    assert refit.read(prompts) == shipped.read(prompts)
    for key, (classes, readout) in refit.readouts.items():
        assert classes == shipped.readouts[key][0]
        for name, value in readout.state_dict().items():
            assert torch.allclose(value, shipped.readouts[key][1].state_dict()[name], atol=1e-4), (key, name)


def test_save_load_round_trip_and_bad_input(tmp_path):
    states: dict[tuple[str, ...], tuple] = {}

    def encoder(texts):
        key = tuple(texts)
        if key not in states:
            states[key] = token_states(list(texts))
        return states[key]

    reader = PromptReader.fit(n_captions=200, seed=3, encoder=encoder)
    path = tmp_path / READER_FILE
    reader.save(path)
    again = PromptReader.load(path)
    assert again.fit_settings == {"captions": 200, "seed": 3, "p_extra": 0.5}
    assert again.read([UNFAMILIAR, GRAMMAR]) == reader.read([UNFAMILIAR, GRAMMAR])
    assert [p.name for p in tmp_path.iterdir()] == [READER_FILE]  # no temp file left behind
    with pytest.raises(InputError, match="at least 200"):
        PromptReader.fit(n_captions=50)
    (tmp_path / "bad.safetensors").write_bytes(b"not a reader")
    with pytest.raises(InputError, match="fit-reader"):
        PromptReader.load(tmp_path / "bad.safetensors")


def test_sampler_mixes_the_reading_into_masked_clips_only():
    torch.manual_seed(0)
    model = TinyVideoDenoiser(TinyConfig(num_layers=1, num_heads=2, head_dim=16, ffn_dim=32, freq_dim=32)).eval()
    cfg = model.config
    text = torch.randn(2, 8, 384)
    ref, present = torch.zeros(2, 3, 8, 8), torch.zeros(2)
    noise = torch.randn(2, 3, cfg.frames, cfg.height, cfg.width)
    run = dict(steps=3, noise=noise)
    plain = sample(model, text, ref, present, guidance=5.0, **run)
    # reading == prompt: the mix collapses to plain guidance g1 + g2 for the masked clip
    mixed = sample(model, text, ref, present, guidance=5.0, reading=text.clone(),
                   read_mask=torch.tensor([True, False]), **run)
    summed = sample(model, text, ref, present, guidance=sum(READING_GUIDANCE), **run)
    assert torch.allclose(mixed[0], summed[0], atol=1e-4)
    assert torch.allclose(mixed[1], plain[1], atol=1e-4)
    other = sample(model, text, ref, present, guidance=5.0, reading=torch.randn(2, 8, 384),
                   read_mask=torch.tensor([True, False]), **run)
    assert not torch.allclose(other[0], summed[0], atol=1e-2) and torch.allclose(other[1], plain[1], atol=1e-4)
    unmasked = sample(model, text, ref, present, guidance=5.0, reading=torch.randn(2, 8, 384),
                      read_mask=torch.tensor([False, False]), **run)
    assert torch.equal(unmasked, plain)
    with pytest.raises(ValueError, match="reading must match"):
        sample(model, text, ref, present, reading=torch.zeros(1, 8, 384), read_mask=torch.tensor([True, True]), **run)


def test_backend_steers_only_unfamiliar_text_prompts(backends):
    reading, alone = backends
    sprite = make_face_sprite(1)
    two = "an emerald orb falls and a yellow box moves left on a gray background"
    readings = reading.readings([GRAMMAR, UNFAMILIAR, "the person drifts left", two], [None, None, sprite, None])
    assert readings[0] is None and readings[2] is None and readings[3] is None  # known words; a cameo; two objects
    assert readings[1] is not None and unfamiliar_words(readings[1]) == []
    assert alone.readings([UNFAMILIAR], [None]) == [None]
    assert reading.info()["prompt_reader"] and not alone.info()["prompt_reader"]

    a, b = reading.render(GRAMMAR, seconds=5, seed=2), alone.render(GRAMMAR, seconds=5, seed=2)
    assert np.array_equal(a.frames, b.frames) and a.meta["read_as"] is None
    a, b = reading.render(UNFAMILIAR, seconds=5, seed=2), alone.render(UNFAMILIAR, seconds=5, seed=2)
    assert not np.array_equal(a.frames, b.frames)
    assert a.meta["read_as"] == readings[1] and b.meta["read_as"] is None
    again = reading.render(UNFAMILIAR, seconds=5, seed=2)
    assert np.array_equal(a.frames, again.frames)


def test_cli_fit_reader_and_eval_without_it(tmp_path):
    runner = CliRunner()
    result = runner.invoke(model_app, ["fit-reader", "--weights", str(tmp_path), "--json"])
    assert result.exit_code == 1 and "holds no model.safetensors" in result.stdout
    weights = tmp_path / "weights"
    weights.mkdir()
    for name in ("model.safetensors", "config.json"):
        shutil.copy(WEIGHTS_DIR / name, weights / name)
    result = runner.invoke(model_app, ["fit-reader", "--weights", str(weights), "--captions", "200", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["reader"] == str(weights / READER_FILE)
    assert set(load_file(str(weights / READER_FILE))) >= {"color.queries", "shape.head.weight", "motion.head.bias"}
    result = runner.invoke(model_app, ["fit-reader", "--weights", str(weights), "--extra-wording", "2"])
    assert result.exit_code == 1 and "--extra-wording" in result.stderr

    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": UNFAMILIAR, "expect": {"color": "red"}}) + "\n")
    base = ["eval", "--prompts", str(prompts), "--weights", str(weights), "--steps", "2", "--threads", "1", "--json"]
    assert json.loads(runner.invoke(model_app, base).stdout)["prompt_reader"] is True
    assert json.loads(runner.invoke(model_app, [*base, "--no-reading"]).stdout)["prompt_reader"] is False


def test_generate_cli_says_what_the_reader_read():
    from sora_lab.cli.videos import _human, _summary

    result = {"video_id": "v1", "path": "/x.mp4", "duration": 10.0, "backend": "tiny", "model": "m", "seed": 4,
              "status": "published", "parent_id": None, "width": 360, "height": 640, "timings": {"total": 1.0},
              "provenance": {"clip": {"read_as": "a red circle moves right on a black background"}}}
    assert _summary(result)["read_as"] == "a red circle moves right on a black background"
    assert "read as: a red circle moves right on a black background" in _human(result)
    result["provenance"] = {"clip": {"read_as": None}}
    assert _summary(result)["read_as"] is None and "read as" not in _human(result)
