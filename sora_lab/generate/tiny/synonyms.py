"""Wording that only training captions use: more ways to say each colour, shape and motion.

Why: the model reads prompts through MiniLM, whose neighbourhoods put "vermilion" near "red"
and "sphere" near "ball". The more distinct words the model has seen for one attribute, the
more of that neighbourhood it learns to treat alike, which is what lets unseen words in user
prompts work. The grammar eval set keeps the core vocabulary of `captions.py`.

Rule: no word here (nor a word sharing its first five letters) appears in the hand-written
paraphrase eval set (data/tiny_eval/paraphrases.jsonl) unless the core grammar already has it;
a test enforces this, so the paraphrase score still measures words the model never saw.
"""

from __future__ import annotations

EXTRA_COLOR_WORDS: dict[str, list[str]] = {
    "red": ["vermilion", "cardinal red", "tomato red", "fire-engine red", "blood red"],
    "green": ["grass green", "kelly green", "mint green", "pea green", "verdant"],
    "blue": ["cerulean", "royal blue", "ultramarine", "electric blue", "denim blue"],
    "yellow": ["mustard", "butter yellow", "banana yellow", "saffron", "dandelion yellow"],
    "purple": ["amethyst", "lilac", "grape", "orchid", "heather purple"],
    "orange": ["apricot", "carrot orange", "marigold", "burnt orange", "persimmon"],
    "white": ["pearl", "cream", "alabaster", "porcelain", "frost white"],
    "pink": ["fuchsia", "blush pink", "flamingo pink", "magenta", "carnation pink"],
}
EXTRA_SHAPE_WORDS: dict[str, list[str]] = {
    "circle": ["sphere", "globe", "marble", "bead", "circular figure"],
    "square": ["crate", "quadrilateral", "four-sided figure", "squared figure", "checker"],
    "triangle": ["wedge", "three-sided figure", "triangular figure", "arrowhead", "delta"],
    "star": ["starburst", "star figure", "spiky star", "starlet", "twinkly star"],
}
EXTRA_MOTION_WORDS: dict[str, list[str]] = {
    "right": ["goes right", "shifts right", "crosses to the right", "scoots to the right", "races right"],
    "left": ["goes left", "shifts left", "crosses to the left", "scoots to the left", "races left"],
    "up": ["goes up", "soars", "lifts up", "travels up", "flies up"],
    "down": ["goes down", "comes down", "travels down", "slips down", "plunges"],
    "grows": ["scales up", "balloons", "gets huge", "puffs up", "widens"],
    "shrinks": ["scales down", "diminishes", "becomes small", "gets little", "reduces"],
    "spins": ["twists", "revolves", "swivels", "twists around", "spins about"],
    "bounces": ["leaps", "bobs up and down", "springs up and down", "skips", "rebounds"],
}
EXTRA_TEMPLATES_ONE = [
    "clip: a {c} {s} {m}, {b} background",
    "this is a {c} {s} who {m} with a {b} background",
    "single {c} {s} {m}; background {b}",
    "a {c} {s} {m} here, all {b} behind",
]
