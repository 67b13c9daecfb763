"""The procedural world, its caption grammar, and the pixel evaluator agree with each other."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.captions import (
    BACKGROUND_WORDS,
    COLOR_WORDS,
    MOTION_WORDS,
    SHAPE_WORDS,
    SUBJECT_WORDS,
    TEMPLATE_TWO,
    TEMPLATES_ONE,
    TEMPLATES_REF,
    grammar_eval_set,
    held_out_triples,
    sample_scene,
    training_triples,
    valid_triples,
    vocabulary,
    with_articles,
    words_of,
)
from sora_lab.generate.tiny.evaluate import SAMPLE_SEED_STRIDE, evaluate, load_prompts, score_clip, wilson_interval
from sora_lab.generate.tiny.measure import measure_clip, reference_error
from sora_lab.generate.tiny.synonyms import (
    EXTRA_COLOR_WORDS,
    EXTRA_MOTION_WORDS,
    EXTRA_SHAPE_WORDS,
    EXTRA_TEMPLATES_ONE,
)
from sora_lab.generate.tiny.world import (
    BACKGROUNDS,
    FRAMES,
    HEIGHT,
    WIDTH,
    ObjectSpec,
    make_face_sprite,
    render_world_clip,
)

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "tiny_eval"


def test_clip_is_vertical_uint8_and_seeded():
    clip = render_world_clip([ObjectSpec("red", "circle", "right")], "black", seed=3)
    assert clip.shape == (FRAMES, HEIGHT, WIDTH, 3) and clip.dtype == np.uint8
    assert abs(WIDTH / HEIGHT - 9 / 16) < 0.01
    assert np.array_equal(clip, render_world_clip([ObjectSpec("red", "circle", "right")], "black", seed=3))
    assert not np.array_equal(clip, render_world_clip([ObjectSpec("red", "circle", "right")], "black", seed=4))


def test_bad_scene_names_the_field():
    with pytest.raises(ValueError, match="color"):
        render_world_clip([ObjectSpec("mauve", "circle", "right")], "black")
    with pytest.raises(ValueError, match="background"):
        render_world_clip([ObjectSpec("red", "circle", "right")], "plaid")


def test_evaluator_reads_world_renders_back():
    """Ground truth scores ~1.0: the evaluator is only as good as this agreement."""
    rng = np.random.default_rng(11)
    triples = valid_triples()
    wrong = {"color": 0, "shape": 0, "motion": 0, "background": 0}
    n = 96
    for i in range(n):
        color, shape, motion = triples[int(rng.integers(len(triples)))]
        background = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
        m = measure_clip(render_world_clip([ObjectSpec(color, shape, motion)], background, seed=i))
        for key, want in (("color", color), ("shape", shape), ("motion", motion), ("background", background)):
            wrong[key] += getattr(m, key) != want
    assert all(v <= 1 for v in wrong.values()), wrong


def test_evaluator_tells_motions_apart_on_one_shape():
    got = {m: measure_clip(render_world_clip([ObjectSpec("white", "star", m)], "navy", seed=5)).motion
           for m in ("right", "left", "up", "down", "grows", "shrinks", "spins", "bounces")}
    assert got == {m: m for m in got}


def test_empty_frames_measure_nothing():
    clip = np.zeros((FRAMES, HEIGHT, WIDTH, 3), np.uint8)
    m = measure_clip(clip)
    assert (m.color, m.shape, m.motion) == (None, None, None)
    assert score_clip(clip, {"color": "red"})["all_right"] is False


def test_held_out_triples_never_reach_training():
    held = set(held_out_triples())
    assert len(held) == 40 and held.isdisjoint(training_triples())
    rng = np.random.default_rng(0)
    for _ in range(1500):
        scene = sample_scene(rng, p_extra=0.5)
        if scene.reference_seed is None:
            for obj in scene.objects:
                assert (obj.color, obj.shape, obj.motion) not in held


def _tokens(text: str) -> set[str]:
    return set(words_of(text))


def _core_and_training_only_words() -> tuple[set[str], set[str]]:
    core = vocabulary([COLOR_WORDS, SHAPE_WORDS, MOTION_WORDS, BACKGROUND_WORDS],
                      [*TEMPLATES_ONE, TEMPLATE_TWO, *TEMPLATES_REF, *SUBJECT_WORDS])
    return core, vocabulary([EXTRA_COLOR_WORDS, EXTRA_SHAPE_WORDS, EXTRA_MOTION_WORDS], EXTRA_TEMPLATES_ONE) - core


def _unusual_words(eval_file: str, core: set[str]) -> set[str]:
    rows = load_prompts(EVAL_DIR / eval_file)
    return set().union(*(_tokens(r["prompt"]) for r in rows)) - core


def _shares_nothing(words: set[str], others: set[str]) -> None:
    """No word in common, and no word sharing its first five letters with one of `others`."""
    assert not words & others, sorted(words & others)
    stems = {w[:5] for w in others}
    assert not [w for w in words if w[:5] in stems], sorted(w for w in words if w[:5] in stems)


def test_training_only_wording_stays_out_of_the_paraphrase_eval_set():
    core, extra = _core_and_training_only_words()
    assert extra
    _shares_nothing(extra, _unusual_words("paraphrases.jsonl", core))


def test_the_paraphrase_dev_set_shares_no_word_with_training_wording_or_the_eval_set():
    """paraphrases_dev.jsonl is where wording choices are tried, so the eval set never has to be looked at."""
    core, extra = _core_and_training_only_words()
    core.add("an")  # training captions have it too: with_articles writes "an orange ..."
    dev = _unusual_words("paraphrases_dev.jsonl", core)
    assert len(load_prompts(EVAL_DIR / "paraphrases_dev.jsonl")) >= 50 and dev
    _shares_nothing(dev, extra | _unusual_words("paraphrases.jsonl", core))


def test_the_eval_like_dev_set_shares_no_word_with_any_other_set():
    """paraphrases_dev2.jsonl is built like the eval set (one or two unusual phrases a prompt, the rest core words),
    and must stay as unseen as it: no word, nor stem, of training wording, the eval set or the first dev set."""
    core, extra = _core_and_training_only_words()
    core.add("an")
    rows = load_prompts(EVAL_DIR / "paraphrases_dev2.jsonl")
    assert len(rows) == 48
    for key, n in (("color", 6), ("motion", 6)):
        assert set(Counter(r["expect"][key] for r in rows).values()) == {n}
    dev2 = _unusual_words("paraphrases_dev2.jsonl", core)
    earlier = _unusual_words("paraphrases.jsonl", core) | _unusual_words("paraphrases_dev.jsonl", core)
    _shares_nothing(dev2, extra | earlier)
    unusual = [len(_tokens(r["prompt"]) & dev2) for r in rows]
    assert min(unusual) >= 1 and max(unusual) <= 4  # "video: a neon green party hat bounces" has four


def test_training_captions_use_the_extra_wording_for_every_attribute():
    assert set(EXTRA_COLOR_WORDS) == set(COLOR_WORDS) and set(EXTRA_SHAPE_WORDS) == set(SHAPE_WORDS)
    assert set(EXTRA_MOTION_WORDS) == set(MOTION_WORDS)
    rng = np.random.default_rng(3)
    captions = [sample_scene(rng, p_extra=0.5).caption for _ in range(400)]
    extra = {w for lists in (EXTRA_COLOR_WORDS, EXTRA_SHAPE_WORDS) for ws in lists.values() for w in ws}
    pattern = re.compile("|".join(rf"\b{re.escape(w)}\b" for w in extra))
    used = sum(bool(pattern.search(c)) for c in captions)
    assert 0.3 < used / len(captions) < 0.95
    rng = np.random.default_rng(3)
    assert not any(pattern.search(sample_scene(rng).caption) for _ in range(400)), "core-only captions changed"


def test_grammar_eval_file_is_the_held_out_set():
    rows = [json.loads(line) for line in (EVAL_DIR / "grammar.jsonl").read_text().splitlines()]
    assert rows == grammar_eval_set()
    assert len(rows) == 200
    held = set(held_out_triples())
    assert all((r["expect"]["color"], r["expect"]["shape"], r["expect"]["motion"]) in held for r in rows)


def test_eval_files_load_and_paraphrases_are_enough():
    assert len(load_prompts(EVAL_DIR / "paraphrases.jsonl")) >= 50
    assert all("reference_seed" in r for r in load_prompts(EVAL_DIR / "reference.jsonl"))


def test_load_prompts_rejects_bad_lines(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a red ball", "expect": {"colour": "red"}}\n')
    with pytest.raises(InputError, match="unknown expect key 'colour'"):
        load_prompts(bad)
    bad.write_text('{"prompt": "a red ball", "expect": {"color": "crimson"}}\n')
    with pytest.raises(InputError, match="expect.color"):
        load_prompts(bad)


def _world_clip(expect: dict, seed: int, color: str | None = None) -> np.ndarray:
    """The world's own clip of an eval prompt's expectation: the evaluator's 'perfect model'."""
    return render_world_clip([ObjectSpec(color or expect["color"], expect["shape"], expect["motion"])],
                             expect["background"], seed=seed)


def test_evaluate_world_renders_on_grammar_prompts():
    """The whole evaluate() path with the world itself as the 'model' gives adherence 1."""
    rows = load_prompts(EVAL_DIR / "grammar.jsonl")[::10]
    by_prompt = {r["prompt"]: r["expect"] for r in rows}

    def render(prompts, seeds, refs):
        return np.stack([_world_clip(by_prompt[p], s) for p, s in zip(prompts, seeds, strict=True)])

    result = evaluate(render, rows)
    assert result["adherence"] == 1.0 and result["n"] == 20 and "consistent" not in result
    assert result["adherence_ci95"][1] == 1.0 and 0.8 < result["adherence_ci95"][0] < 0.9


def test_wilson_interval_matches_published_values():
    """Reference values of the Wilson score interval at 95% (z = 1.96)."""
    assert wilson_interval(0.5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0.0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    lo, hi = wilson_interval(1.0, 24)  # a perfect score on a small set still leaves room below
    assert hi == 1.0 and lo == pytest.approx(0.8620, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(0.5, 0)


def test_evaluate_draws_each_prompt_with_its_own_seeds():
    """samples=3: every prompt is drawn three times with distinct seeds; intervals and n count prompts;
    `consistent` is the share of prompts right in every draw."""
    rows = load_prompts(EVAL_DIR / "grammar.jsonl")[:4]
    seen = []
    by_prompt = {r["prompt"]: r for r in rows}

    def clip(prompt, seed):
        expect, first_seed = by_prompt[prompt]["expect"], int(by_prompt[prompt]["seed"])
        # right only in the first draw: later draws show the wrong colour
        wrong = "green" if expect["color"] != "green" else "red"
        return _world_clip(expect, seed, None if seed == first_seed else wrong)

    def render(prompts, seeds, refs):
        seen.extend(zip(prompts, seeds, strict=True))
        return np.stack([clip(p, s) for p, s in zip(prompts, seeds, strict=True)])

    result = evaluate(render, rows, samples=3, batch_size=5)
    assert len(seen) == 12 and len(set(seen)) == 12
    assert {s for _, s in seen} == {int(r["seed"]) + k * SAMPLE_SEED_STRIDE for r in rows for k in range(3)}
    assert (result["n"], result["clips"]) == (4, 12)
    assert result["adherence"] == pytest.approx(1 / 3, abs=1e-4) and result["consistent"] == 0.0
    assert result["adherence_ci95"] == list(wilson_interval(1 / 3, 4))
    assert result["per_attribute"]["shape"]["accuracy"] == 1.0 and result["per_attribute"]["shape"]["n"] == 4
    with pytest.raises(InputError, match="samples"):
        evaluate(render, rows, samples=0)


def test_face_sprites_differ_and_are_found_in_clips():
    a, b = make_face_sprite(1), make_face_sprite(2)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8 and not np.array_equal(a, b)
    clip = render_world_clip([ObjectSpec("white", "circle", "left")], "gray", reference=a, seed=1)
    m = measure_clip(clip)
    assert m.motion == "left"
    assert reference_error(clip, a, m.track) < reference_error(clip, b, m.track)
    assert score_clip(clip, {"motion": "left"}, a, distractor_seed=1)["reference_identified"]


def test_articles():
    assert with_articles("a orange star and a red ball") == "an orange star and a red ball"


def test_sampler_tuning_set_uses_training_triples_only():
    rows = load_prompts(EVAL_DIR / "train_val.jsonl")
    held = set(held_out_triples())
    assert len(rows) == 64
    assert not any((r["expect"]["color"], r["expect"]["shape"], r["expect"]["motion"]) in held for r in rows)


def test_spin_check_set_is_spinning_training_triples():
    """spins_val.jsonl measures how well the model draws a turning shape, so it must not test composition too."""
    rows = load_prompts(EVAL_DIR / "spins_val.jsonl")
    training = set(training_triples())
    assert len(rows) == 48
    assert all(r["expect"]["motion"] == "spins" for r in rows)
    assert all((r["expect"]["color"], r["expect"]["shape"], r["expect"]["motion"]) in training for r in rows)
    assert {r["expect"]["shape"] for r in rows} == {"square", "triangle", "star"}


def test_a_spinning_cameo_turns_inside_its_disc_the_way_shapes_turn():
    """A caption saying the person spins must show the face turning (it was pasted upright before)."""
    sprite = np.zeros((32, 32, 3), np.uint8)
    sprite[26:30, 12:20] = 255  # a mark at the bottom of the face
    quarter = round(FRAMES / 4)  # ~90 degrees into the turn
    spin = render_world_clip([ObjectSpec("white", "circle", "spins")], "black", reference=sprite, seed=3)
    still = render_world_clip([ObjectSpec("white", "circle", "grows")], "black", reference=sprite, seed=3)
    mark = [np.argwhere(spin[i, ..., 0] > 100).mean(axis=0) for i in (0, quarter)]
    assert mark[0][0] > mark[1][0] + 1.5  # the mark leaves the bottom ...
    assert mark[1][1] < mark[0][1] - 1.5  # ... for the left side: clockwise, as shapes turn
    upright = np.argwhere(still[quarter, ..., 0] > 100).mean(axis=0)
    assert upright[0] > mark[1][0]  # a face that only grows keeps its mark at the bottom
