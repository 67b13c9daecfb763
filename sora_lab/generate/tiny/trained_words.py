"""What a prompt's training words say outright, so the prompt reader never contradicts them.

Why: the readouts read a whole prompt's MiniLM token states, and one unfamiliar word can pull them off a
word training knows well ("a blue orb ascending" read purple, "a sky blue triangle moving towards the left
edge" read right). A word that in every training caption names one value of one attribute ("blue", "left",
"disc") is better evidence than that pull. `TinyBackend.readings` puts the value found here in place of the
reader's whenever the prompt's such words name exactly one value of that attribute.

The units are built once (`python -m sora_lab.generate.tiny.trained_words`; scikit-learn's English stop words)
and shipped as trained_words.json: importing scikit-learn would cost a cold `sora-lab generate` 1.5 s (issue 36).
A test checks the shipped units are what the training tables give.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from sora_lab.core.home import write_json_atomic
from sora_lab.generate.tiny.captions import (
    BACKGROUND_WORDS,
    COLOR_WORDS,
    MOTION_WORDS,
    SHAPE_WORDS,
    caption_frames,
    contains_phrase,
    cut_phrases,
    vocabulary,
    words_of,
)
from sora_lab.generate.tiny.color_names import BACKGROUND_PHRASES
from sora_lab.generate.tiny.synonyms import EXTRA_COLOR_WORDS, EXTRA_MOTION_WORDS, EXTRA_SHAPE_WORDS

TABLES = {
    "color": (COLOR_WORDS, EXTRA_COLOR_WORDS),
    "shape": (SHAPE_WORDS, EXTRA_SHAPE_WORDS),
    "motion": (MOTION_WORDS, EXTRA_MOTION_WORDS),
}
UNITS_FILE = Path(__file__).resolve().parent / "trained_words.json"
MIN_PHRASES = 2  # a lone word counts only if several phrases of its value use it ("right"), not one ("sea blue");
# "-ing" phrases repeat a verb phrase ("becoming small" of "becomes small"), so they add no use


@functools.cache
def stating_units() -> dict[str, dict[tuple[str, ...], str]]:
    """attribute -> {words: value}, from the shipped units (`build_stating_units`)."""
    shipped = json.loads(UNITS_FILE.read_text())["units"]
    return {attribute: {tuple(words.split()): value for words, value in units.items()}
            for attribute, units in shipped.items()}


def build_stating_units() -> dict[str, dict[tuple[str, ...], str]]:
    """attribute -> {words: value}: every phrase of the training tables, and every word that several
    phrases of one value use and no other value, attribute, caption template or background phrase does.

    Left out as lone words: words of several values ("up" is in "moves up" and "hops up and down"), words of
    one phrase ("sea" of "sea blue", "small" of "becomes small") and English stop words ("and").
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    owners: dict[str, set[tuple[str, str]]] = {}
    uses: dict[str, int] = {}
    out: dict[str, dict[tuple[str, ...], str]] = {attribute: {} for attribute in TABLES}
    for attribute, tables in TABLES.items():
        for table in tables:
            for value, phrases in table.items():
                for phrase in phrases:
                    words = words_of(phrase)
                    out[attribute][tuple(words)] = value
                    for word in set(words):
                        owners.setdefault(word, set()).add((attribute, value))
                        uses[word] = uses.get(word, 0) + (not words[0].endswith("ing"))
    excluded = vocabulary([BACKGROUND_WORDS], caption_frames()) | set(ENGLISH_STOP_WORDS)
    for word, owned in owners.items():
        if len(owned) == 1 and uses[word] >= MIN_PHRASES and word not in excluded:
            (attribute, value), = owned
            out[attribute].setdefault((word,), value)
    return out


def stated_values(prompt: str) -> dict[str, str]:
    """attribute -> value for each attribute whose training phrases and words in `prompt` (background phrases
    cut out first, so "dark green" names no object colour) all name the same value."""
    words = cut_phrases(words_of(prompt), BACKGROUND_PHRASES)
    stated = {}
    for attribute, units in stating_units().items():
        values = {value for unit, value in units.items() if contains_phrase(words, list(unit))}
        if len(values) == 1:
            stated[attribute] = values.pop()
    return stated


if __name__ == "__main__":
    built = build_stating_units()
    write_json_atomic(UNITS_FILE, {
        "rule": "every phrase of the training tables, and each word that several phrases of one value use and no "
                "other value, attribute, caption template, background phrase or English stop word (scikit-learn)",
        "units": {attribute: {" ".join(words): value for words, value in units.items()}
                  for attribute, units in built.items()}})
    print(f"{UNITS_FILE}: {sum(len(u) for u in built.values())} units")
