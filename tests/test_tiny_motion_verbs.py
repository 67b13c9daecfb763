"""Motion verbs training lacks are read from WordNet: the shipped table and which prompts it reads (the backend's
switch: test_tiny_trained_words.py)."""

from __future__ import annotations

import importlib.util

import pytest

from sora_lab.generate.tiny.captions import training_vocabulary
from sora_lab.generate.tiny.motion_verbs import TABLE_FILE, WORDNET_DIR, build_table, motion_forms, named_motion
from sora_lab.generate.tiny.world import MOTIONS


def test_table_maps_verb_forms_training_lacks_to_world_motions():
    forms = motion_forms()
    assert len(forms) > 1000
    assert set(forms.values()) <= set(MOTIONS)
    assert not set(forms) & training_vocabulary()  # training words are the readouts' job (and trained_words.py's)
    assert forms["surfacing"] == "up" and forms["subsiding"] == "down" and forms["spun"] == "spins"
    assert forms["swivelling"] == "spins" and forms["ballooned"] == "grows"


def test_a_prompt_names_a_motion_only_through_unfamiliar_verbs_that_agree():
    assert named_motion("a kite surfacing") == "up"
    assert named_motion("a kite spiralling slowly") == "spins"
    assert named_motion("a red circle moves left") is None  # training words only
    assert named_motion("a kite surfacing, then subsiding") is None  # two motions
    assert named_motion("a light purple kite") is None  # "light" reads as an adjective far more often than a verb


@pytest.mark.skipif(importlib.util.find_spec("nltk") is None or not (WORDNET_DIR / "cntlist.rev").is_file(),
                    reason="rebuilding the table needs nltk (dev extra) and Debian's wordnet-base (make wordnet)")
def test_shipped_table_is_what_wordnet_gives():
    import json

    shipped = json.loads(TABLE_FILE.read_text())
    assert build_table()["forms"] == shipped["forms"]
