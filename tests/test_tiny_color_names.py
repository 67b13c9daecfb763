"""Colour names grounded in measured colour: the survey table's mapping, which prompts it reads, and the backend."""

from __future__ import annotations

import shutil
from pathlib import Path

from sora_lab.generate.tiny.backend import WEIGHTS_DIR
from sora_lab.generate.tiny.card import write_model_card
from sora_lab.generate.tiny.color_names import (
    basic_term,
    build_color_table,
    color_table,
    named_color,
    survey_colors,
)
from sora_lab.generate.tiny.evaluate import load_prompts
from sora_lab.generate.tiny.world import COLORS

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "tiny_eval"


def test_survey_names_take_the_colour_their_labelled_neighbours_agree_on():
    table = color_table()
    # the survey's "red" is called red, ...; white excepted: only 2 survey names say "white", too few for 3 votes
    assert all(table[name] == name for name in COLORS if name != "white")
    assert table["raspberry"] == "red" and table["periwinkle"] == "blue" and table["light purple"] == "purple"
    for grey_or_between in ("black", "brown", "charcoal grey", "gunmetal", "darkgrey", "teal", "turquoise"):
        assert grey_or_between not in table, grey_or_between  # no world colour, or neighbours that disagree
    assert len(table) > 600


def test_shipped_table_is_what_the_survey_gives():
    """color_names.json (read at generation, without matplotlib or scikit-image) is the table they build."""
    assert color_table() == build_color_table()


def test_the_table_agrees_with_the_survey_s_own_labels_left_out_in_turn():
    """A labelled name never votes for itself, so the table's answer for it is a held-out prediction."""
    table = color_table()
    labelled = {name: basic_term(name) for name in survey_colors() if basic_term(name)}
    world_labelled = [name for name, term in labelled.items() if term in COLORS]
    mapped = [name for name in labelled if name in table]
    precision = sum(table[name] == labelled[name] for name in mapped) / len(mapped)
    coverage = sum(name in table for name in world_labelled) / len(world_labelled)
    assert precision >= 0.97 and coverage >= 0.85, (precision, coverage)
    assert basic_term("bubble gum pink") == "pink" and basic_term("blue grey") is None and basic_term("plum") is None


def test_a_colour_named_only_by_a_survey_name_is_read_from_it():
    assert named_color("a raspberry square spins") == ("raspberry", "red")
    assert named_color("a Raspberry-coloured kite on a navy background") == ("raspberry", "red")
    assert named_color("periwinkle pixel meandering left") == ("periwinkle", "blue")


def test_trained_colour_words_backgrounds_and_disagreement_leave_the_reader_alone():
    assert named_color("a raspberry red square") is None  # "red" is a training word: the model reads it
    assert named_color("a cream kite") is None  # "cream" is training-only wording, also read by the model
    assert named_color("a kite on a navy backdrop") is None  # a background, not the object's colour
    assert named_color("a raspberry and periwinkle kite") is None  # two names, two colours: no answer
    assert named_color("a teal kite") is None  # between green and blue
    assert named_color("a kite moves right") is None


def test_prompts_in_training_words_are_never_touched():
    for name in ("grammar", "train_val", "spins_val", "reference"):
        for row in load_prompts(EVAL_DIR / f"{name}.jsonl"):
            assert named_color(row["prompt"]) is None, (name, row["prompt"])


def test_model_card_gives_the_command_of_each_row(tmp_path):
    for name in ("config.json", "reader.safetensors"):
        shutil.copy(WEIGHTS_DIR / name, tmp_path / name)
    row = {"n": 60, "adherence": 0.6, "per_attribute": {}}
    card = write_model_card(tmp_path, {
        "default": {**row, "prompts": "p.jsonl", "prompt_reader": True, "color_names": True},
        "without training words": {**row, "prompts": "p.jsonl", "prompt_reader": True, "color_names": True,
                                    "trained_words": False},
        "without motion verbs": {**row, "prompts": "p.jsonl", "prompt_reader": True, "motion_verbs": False},
        "readouts alone": {**row, "prompts": "p.jsonl", "prompt_reader": True, "color_names": False,
                           "motion_verbs": False, "trained_words": False},
        "model alone": {**row, "prompts": "p.jsonl", "prompt_reader": False, "color_names": False,
                        "trained_words": False},
    }).read_text()
    commands = [line.strip() for line in card.splitlines() if line.startswith("    sora-lab model eval")]
    assert commands == ["sora-lab model eval --prompts p.jsonl --json",
                        "sora-lab model eval --prompts p.jsonl --json --no-trained-words",
                        "sora-lab model eval --prompts p.jsonl --json --no-motion-verbs",
                        "sora-lab model eval --prompts p.jsonl --json --no-color-names --no-motion-verbs "
                        "--no-trained-words",
                        "sora-lab model eval --prompts p.jsonl --json --no-reading"]
    assert "colour names (`color_names.py`)" in card and "training words (`trained_words.py`)" in card
    assert "motion verbs (`motion_verbs.py`" in card
