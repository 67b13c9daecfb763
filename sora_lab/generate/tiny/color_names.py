"""Colour names no training caption uses, grounded in what people call nearby colours rather than in MiniLM's guess.

Why: MiniLM places many colour names far from their hue ("cranberry" nearer purple than red), and
readouts fitted on training captions cannot learn words those captions lack. The xkcd colour survey
(`matplotlib.colors.XKCD_COLORS`: about 950 names people gave to colours, with their RGB; CSS4 fills the
names it lacks) says what such a word looks like, and its names that hold a basic colour term ("bubble gum
pink", "dark olive green") say what people call colours there. A name takes a world colour when its 3 nearest
such names in CIELAB (CIEDE2000) all say that colour; greys, browns and names between two hues are left alone.
Checked on the survey's own labels, each left out in turn: 0.98 of the names it maps are right and it maps 0.89
of those labelled with a world colour (measuring the distance to the 8 rendered world colours instead: 0.84 and
0.74; model card). `TinyBackend.readings` puts the colour found here in place of the prompt reader's.

The table is built once (`python -m sora_lab.generate.tiny.color_names`: matplotlib's survey names, scikit-image's
CIEDE2000) and shipped as color_names.json: importing those and computing it would cost a cold `sora-lab
generate` 0.6 s (issue 36). A test checks the shipped table is what they give.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from sora_lab.core.home import write_json_atomic
from sora_lab.generate.tiny.captions import (
    BACKGROUND_WORDS,
    COLOR_WORDS,
    contains_phrase,
    cut_phrases,
    training_vocabulary,
    words_of,
)
from sora_lab.generate.tiny.synonyms import EXTRA_COLOR_WORDS
from sora_lab.generate.tiny.world import COLORS

# The 11 basic colour terms of English (Berlin and Kay): 8 are world object colours, 3 are not.
BASIC_TERMS = {"black": "black", "white": "white", "red": "red", "green": "green", "yellow": "yellow",
               "blue": "blue", "brown": "brown", "purple": "purple", "pink": "pink", "orange": "orange",
               "grey": "grey", "gray": "grey"}
NEIGHBOURS = 3  # labelled names that vote, all alike; k, unanimity and the distance were chosen by leave-one-out
MAX_NEIGHBOUR_DISTANCE = 15.0  # CIEDE2000 to the nearest labelled name; farther, the survey says too little
MAX_WORDS = 4  # the longest name looked up ("robin s egg blue")
DROPPED = {"coloured", "colored"}  # "raspberry-coloured" names the colour "raspberry"
TABLE_FILE = Path(__file__).resolve().parent / "color_names.json"


def survey_colors() -> dict[str, str]:
    """Survey name (lower-case words joined by spaces) -> hex colour: xkcd first, CSS4 for names it lacks."""
    from matplotlib.colors import CSS4_COLORS, XKCD_COLORS

    hexes = {" ".join(words_of(name.removeprefix("xkcd:"))): value for name, value in XKCD_COLORS.items()}
    for name, value in CSS4_COLORS.items():
        hexes.setdefault(" ".join(words_of(name)), value)
    return hexes


def basic_term(name: str) -> str | None:
    """The one basic colour term a survey name holds as a word ("bubble gum pink" -> pink); None for none or two."""
    terms = {BASIC_TERMS[w] for w in name.split() if w in BASIC_TERMS}
    return terms.pop() if len(terms) == 1 else None


@functools.cache
def color_table() -> dict[str, str]:
    """Survey name -> world colour, from the shipped table (`build_color_table`)."""
    return json.loads(TABLE_FILE.read_text())["names"]


def build_color_table() -> dict[str, str]:
    """Survey name -> world colour, for every name whose 3 nearest labelled names (never itself) agree on one."""
    from matplotlib.colors import to_rgb
    from skimage.color import deltaE_ciede2000, rgb2lab

    hexes = survey_colors()
    names = sorted(hexes)
    labs = rgb2lab(np.array([[to_rgb(hexes[n]) for n in names]])).reshape(-1, 3)
    labels = {i: term for i, n in enumerate(names) if (term := basic_term(n))}
    voters = np.array(sorted(labels))
    a, b = np.broadcast_arrays(labs[:, None, :], labs[voters][None, :, :])
    distances = deltaE_ciede2000(a, b)  # (names, labelled names)
    distances[voters, np.arange(len(voters))] = np.inf  # a labelled name does not vote for itself
    nearest = np.argsort(distances, axis=1)[:, :NEIGHBOURS]
    table = {}
    for i, name in enumerate(names):
        votes = {labels[int(voters[j])] for j in nearest[i]}
        color = votes.pop()
        if not votes and color in COLORS and distances[i, nearest[i, 0]] <= MAX_NEIGHBOUR_DISTANCE:
            table[name] = color
    return table


def _phrases(tables: list[dict[str, list[str]]]) -> list[list[str]]:
    return [words_of(p) for table in tables for phrases in table.values() for p in phrases]


BACKGROUND_PHRASES = _phrases([BACKGROUND_WORDS])
TRAINED_COLOR_PHRASES = _phrases([COLOR_WORDS, EXTRA_COLOR_WORDS])


def named_color(prompt: str) -> tuple[str, str] | None:
    """(phrase, world colour) when the prompt names its colour only in words training never used, by a survey
    name clearly near one world colour; None otherwise (also when two such names disagree)."""
    words = [w for w in words_of(prompt) if w not in DROPPED]
    words = cut_phrases(words, BACKGROUND_PHRASES)
    if any(contains_phrase(words, p) for p in TRAINED_COLOR_PHRASES):
        return None
    vocab, table = training_vocabulary(), color_table()
    taken = [False] * len(words)
    found: list[tuple[str, str]] = []
    for n in range(MAX_WORDS, 0, -1):
        for i in range(len(words) - n + 1):
            span = words[i:i + n]
            if any(taken[i:i + n]) or "" in span or all(w in vocab for w in span):
                continue
            phrase = " ".join(span)
            if phrase in table:
                found.append((phrase, table[phrase]))
                taken[i:i + n] = [True] * n
    if not found or len({color for _, color in found}) > 1:
        return None
    return found[0]


if __name__ == "__main__":
    built = build_color_table()
    write_json_atomic(TABLE_FILE, {
        "source": "xkcd colour survey names (CC0) and CSS4 names, from matplotlib.colors; CIEDE2000 from scikit-image",
        "rule": f"a name takes a world colour when its {NEIGHBOURS} nearest names holding a basic colour term agree "
                f"on it and the nearest is within CIEDE2000 {MAX_NEIGHBOUR_DISTANCE}",
        "names": built})
    print(f"{TABLE_FILE}: {len(built)} colour names")
