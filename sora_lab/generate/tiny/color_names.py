"""Colour names no training caption uses, grounded in measured colour rather than in MiniLM's guess.

Why: MiniLM places many colour names far from their hue ("cranberry" nearer purple than red), and
readouts fitted on training captions cannot learn words those captions lack. The xkcd colour survey
(`matplotlib.colors.XKCD_COLORS`: about 950 names people gave to colours, with their RGB; CSS4 fills the
names it lacks) says what such a word looks like, and CIEDE2000 in CIELAB says which of the world's 8
object colours it is nearest. A name close to none of them, or about as close to two, is left alone.
`TinyBackend.readings` puts the colour found here in place of the prompt reader's; on the rare-word dev set
that lifted colour from 0.47 to 0.625 (model card).
"""

from __future__ import annotations

import functools

import numpy as np

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

MAX_DISTANCE = 25.0  # CIEDE2000 to the nearest world colour; set on the dev sets' colour words
MIN_MARGIN = 5.0  # how much nearer the nearest world colour must be than the second nearest
MIN_CHROMA = 15.0  # CIELAB chroma below which a name reads as a grey, whatever hue it leans to
MIN_WHITE_LIGHTNESS = 80.0  # a grey darker than this is not the world's white
MAX_WORDS = 4  # the longest name looked up ("robin s egg blue")
DROPPED = {"coloured", "colored"}  # "raspberry-coloured" names the colour "raspberry"


def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, dtype=np.float64).reshape(1, -1, 3)).reshape(-1, 3)


@functools.cache
def color_table() -> dict[str, str]:
    """Name (lower-case words joined by spaces) -> world colour, for every survey name clearly near one."""
    from matplotlib.colors import CSS4_COLORS, XKCD_COLORS, to_rgb
    from skimage.color import deltaE_ciede2000

    hexes = {" ".join(words_of(name.removeprefix("xkcd:"))): value for name, value in XKCD_COLORS.items()}
    for name, value in CSS4_COLORS.items():
        hexes.setdefault(" ".join(words_of(name)), value)
    names = sorted(hexes)
    labs = _lab(np.array([to_rgb(hexes[n]) for n in names]))
    world = list(COLORS)
    world_labs = _lab(np.array([COLORS[c] for c in world]) / 255.0)
    distances = np.stack([deltaE_ciede2000(labs, np.broadcast_to(w, labs.shape)) for w in world_labs], axis=1)
    order = np.argsort(distances, axis=1)
    chroma, lightness = np.hypot(labs[:, 1], labs[:, 2]), labs[:, 0]
    table = {}
    for i, name in enumerate(names):
        nearest, second = distances[i, order[i, 0]], distances[i, order[i, 1]]
        color = world[order[i, 0]]
        looks_like = lightness[i] >= MIN_WHITE_LIGHTNESS if color == "white" else chroma[i] >= MIN_CHROMA
        if nearest <= MAX_DISTANCE and second - nearest >= MIN_MARGIN and looks_like:
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

