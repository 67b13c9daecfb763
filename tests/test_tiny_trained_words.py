"""Training words a prompt uses overrule the prompt reader: which words count, which prompts they read; and the
backend's and CLI's reading switches (colour names, motion verbs, training words)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sora_lab.cli.model import model_app
from sora_lab.generate.tiny.backend import TinyBackend
from sora_lab.generate.tiny.captions import COLOR_WORDS, MOTION_WORDS, SHAPE_WORDS
from sora_lab.generate.tiny.evaluate import load_prompts
from sora_lab.generate.tiny.trained_words import build_stating_units, stated_values, stating_units

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "tiny_eval"


def test_every_core_phrase_states_its_own_value():
    for attribute, table in (("color", COLOR_WORDS), ("shape", SHAPE_WORDS), ("motion", MOTION_WORDS)):
        for value, phrases in table.items():
            for phrase in phrases:
                assert stated_values(f"a thing that {phrase}").get(attribute) == value, phrase


def test_shipped_units_are_what_the_training_tables_give():
    """trained_words.json (read at generation, without scikit-learn) is what the tables and stop words build."""
    assert stating_units() == build_stating_units()


def test_lone_words_count_only_when_several_phrases_of_one_value_use_them():
    units = stating_units()
    assert units["motion"][("right",)] == "right" and units["color"][("blue",)] == "blue"
    for word in ("up", "down", "and", "its", "sea", "engine", "small", "background"):
        assert all((word,) not in units[a] for a in units), word  # shared, one phrase only, stop or template word


def test_a_prompt_with_unfamiliar_words_keeps_what_its_training_words_say():
    assert stated_values("a blue orb ascending slowly") == {"color": "blue"}
    assert stated_values("purple kite wandering over to the right side") == {"color": "purple", "motion": "right"}
    assert stated_values("a lantern drifting, bobbing up and down") == {"motion": "bounces"}


def test_backgrounds_and_disagreement_state_nothing():
    assert stated_values("a crimson orb against dark green") == {}  # the background's green, not the object's
    assert stated_values("a kite on a navy backdrop") == {}
    assert stated_values("a red and blue kite drifting left then right") == {}  # two colours, two directions
    assert stated_values("a small crimson orb drifting") == {}  # "small" is a size here, not "becomes small"


def test_eval_expectations_never_disagree_with_what_prompts_state():
    for path in sorted(EVAL_DIR.glob("*.jsonl")):
        for row in load_prompts(path):
            for attribute, value in stated_values(row["prompt"]).items():
                if attribute in row["expect"]:
                    assert row["expect"][attribute] == value, (path.name, row["prompt"])


@pytest.mark.parametrize("switch, prompt, read_right", [
    # "raspberry": the survey's colour, where MiniLM's readouts alone miss red
    ("color_names", "a raspberry kite drifting to the right", lambda reading: reading.startswith("a red ")),
    # "subsiding": WordNet's motion, where MiniLM's guess is not down
    ("motion_verbs", "an admiral blue sheriff badge subsiding", lambda reading: " moves down " in reading),
    # "blue": the training word, where "orb" pulls the readouts off it
    ("trained_words", "a blue orb ascending slowly", lambda reading: reading.startswith("a blue ")),
])
def test_backend_reading_switches_change_the_reading_only_when_on(switch, prompt, read_right):
    on = TinyBackend(device="cpu", steps=2, threads=1)
    off = TinyBackend(device="cpu", steps=2, threads=1, **{switch: False})
    assert on.info()[switch] and not off.info()[switch]
    assert read_right(on.readings([prompt], [None])[0])
    assert not read_right(off.readings([prompt], [None])[0])
    assert read_right(on.render(prompt, seconds=5, seed=1).meta["read_as"])
    assert not TinyBackend(device="cpu", steps=2, threads=1, reading=False).info()[switch]


def test_cli_eval_reports_which_reading_switches_were_on(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "a raspberry kite moves right", "expect": {"color": "red"}}) + "\n")
    base = ["eval", "--prompts", str(prompts), "--steps", "2", "--threads", "1", "--json"]
    runner = CliRunner()
    default = json.loads(runner.invoke(model_app, base).stdout)
    switches = ("color_names", "motion_verbs", "trained_words")
    assert all(default[s] is True for s in switches)
    for off in switches:
        result = json.loads(runner.invoke(model_app, [*base, f"--no-{off.replace('_', '-')}"]).stdout)
        assert {s: result[s] for s in switches} == {s: s != off for s in switches}, off
