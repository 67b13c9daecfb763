"""The caption grammar of the tiny world, and which combinations training never sees.

Captions are built from templates and a small core vocabulary ("red"/"scarlet",
"circle"/"ball"/"disc", "moves right"/"slides to the right", ...); training captions also
draw on the wider wording of `synonyms.py`. The text encoder (MiniLM) then has to map
unseen words in user prompts ("crimson", "drifting") near these, which is what makes
paraphrases work.

Held-out triples: a fixed set of colour x shape x motion combinations never appears in
training (alone or as either object of a two-object clip), so the grammar eval set in
data/tiny_eval/ measures composition, not memory.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

import numpy as np

from sora_lab.generate.tiny.synonyms import (
    EXTRA_COLOR_WORDS,
    EXTRA_MOTION_WORDS,
    EXTRA_SHAPE_WORDS,
    EXTRA_TEMPLATES_ONE,
)
from sora_lab.generate.tiny.world import BACKGROUNDS, COLORS, MOTIONS, SHAPES, ObjectSpec

COLOR_WORDS: dict[str, list[str]] = {
    "red": ["red", "scarlet"],
    "green": ["green", "lime"],
    "blue": ["blue", "azure"],
    "yellow": ["yellow", "golden"],
    "purple": ["purple", "violet"],
    "orange": ["orange", "tangerine"],
    "white": ["white", "snow white"],
    "pink": ["pink", "rosy"],
}
SHAPE_WORDS: dict[str, list[str]] = {
    "circle": ["circle", "ball", "disc"],
    "square": ["square", "box", "block"],
    "triangle": ["triangle"],
    "star": ["star"],
}
MOTION_WORDS: dict[str, list[str]] = {
    "right": ["moves right", "moves to the right", "slides right", "moving right", "travels to the right"],
    "left": ["moves left", "moves to the left", "slides left", "moving left", "travels to the left"],
    "up": ["moves up", "rises", "floats upward", "moving up"],
    "down": ["moves down", "falls", "sinks", "moving down"],
    "grows": ["grows", "gets bigger", "expands", "growing"],
    "shrinks": ["shrinks", "gets smaller", "shrinking"],
    "spins": ["spins", "rotates", "spinning", "turns around"],
    "bounces": ["bounces", "bouncing", "hops up and down"],
}
BACKGROUND_WORDS: dict[str, list[str]] = {
    "black": ["black"],
    "gray": ["gray", "grey"],
    "navy": ["navy", "dark blue"],
    "dark green": ["dark green", "forest green"],
    "brown": ["brown"],
}
SUBJECT_WORDS = ["the person", "my cameo", "the subject", "the face", "this person"]

TEMPLATES_ONE = [
    "a {c} {s} {m} on a {b} background",
    "{c} {s} {m}, {b} background",
    "on a {b} background, a {c} {s} {m}",
    "a {c} {s} {m} against {b}",
]
TEMPLATE_TWO = "a {c} {s} {m} and a {c2} {s2} {m2} on a {b} background"
TEMPLATES_REF = ["{p} {m} on a {b} background", "{p} {m} against {b}"]

N_HELD_OUT = 40
HOLDOUT_SEED = 20260


def valid_triples() -> list[tuple[str, str, str]]:
    """All colour x shape x motion triples, except a spinning circle (invisible by symmetry)."""
    return [t for t in itertools.product(COLORS, SHAPES, MOTIONS) if not (t[1] == "circle" and t[2] == "spins")]


def held_out_triples() -> list[tuple[str, str, str]]:
    """The fixed triples reserved for evaluation (never rendered in training)."""
    triples = valid_triples()
    rng = np.random.default_rng(HOLDOUT_SEED)
    picks = rng.choice(len(triples), size=N_HELD_OUT, replace=False)
    return sorted(triples[i] for i in picks)


def training_triples() -> list[tuple[str, str, str]]:
    held = set(held_out_triples())
    return [t for t in valid_triples() if t not in held]


@dataclass(frozen=True)
class Scene:
    """A caption and everything needed to render it."""

    caption: str
    objects: tuple[ObjectSpec, ...]
    background: str
    reference_seed: int | None = None  # the face sprite seed when the first object is a cameo


def with_articles(text: str) -> str:
    """'a orange' -> 'an orange': captions should read like sentences a person would type."""
    return re.sub(r"\b([Aa]) (?=[aeiou])", lambda m: m.group(1) + "n ", text)


def words_of(text: str) -> list[str]:
    """Lower-case runs of letters: how prompts and captions are compared word by word."""
    return re.findall(r"[a-z]+", text.lower())


def contains_phrase(words: list[str], phrase: list[str]) -> bool:
    """Whether the word list holds the phrase's words in a row."""
    n = len(phrase)
    return any(words[i:i + n] == phrase for i in range(len(words) - n + 1))


def cut_phrases(words: list[str], phrases: list[list[str]]) -> list[str]:
    """`words` with every occurrence of the phrases cut out (a cut leaves a gap, so no phrase spans it)."""
    out = list(words)
    for phrase in sorted(phrases, key=len, reverse=True):
        n = len(phrase)
        i = 0
        while i <= len(out) - n:
            if out[i:i + n] == phrase:
                out[i:i + n] = [""]
            i += 1
    return out


def vocabulary(tables: list[dict[str, list[str]]], templates: list[str]) -> set[str]:
    """The words of every phrase in `tables` and of `templates` without their {slots}."""
    words = {w for table in tables for phrases in table.values() for phrase in phrases for w in words_of(phrase)}
    return words | {w for template in templates for w in words_of(re.sub(r"\{\w+\}", " ", template))}


def caption_frames() -> list[str]:
    """Every caption template and subject phrase: the words a caption has around its attribute words."""
    return [*TEMPLATES_ONE, TEMPLATE_TWO, *TEMPLATES_REF, *EXTRA_TEMPLATES_ONE, *SUBJECT_WORDS]


@functools.cache
def training_vocabulary() -> frozenset[str]:
    """Every word a training caption can contain (core grammar, training-only wording, templates)."""
    tables = [COLOR_WORDS, SHAPE_WORDS, MOTION_WORDS, BACKGROUND_WORDS,
              EXTRA_COLOR_WORDS, EXTRA_SHAPE_WORDS, EXTRA_MOTION_WORDS]
    return frozenset(vocabulary(tables, caption_frames()) | {"an"})  # "an": with_articles' only addition


def unfamiliar_words(prompt: str) -> list[str]:
    """Words of `prompt` that no training caption uses: where the model has only MiniLM's guess to go on."""
    vocab = training_vocabulary()
    return [w for w in words_of(prompt) if w not in vocab]


def names_two_objects(prompt: str) -> bool:
    """Whether `prompt` joins two objects the way training captions do: "and" with an article ("... and a
    blue star"); "larger and larger" or "crimson and round" describe one object."""
    return re.search(r"\band (a|an|another)\b", prompt.lower()) is not None


def _pick(rng: np.random.Generator, words: list[str]) -> str:
    return words[int(rng.integers(len(words)))]


def _choose(rng: np.random.Generator, core: list[str], extra: list[str], p_extra: float) -> str:
    """A core word, or with probability `p_extra` one of the training-only words.
    With p_extra == 0 no extra random number is drawn, so core-only streams never change."""
    if p_extra > 0 and rng.random() < p_extra:
        return _pick(rng, extra)
    return _pick(rng, core)


def _wording(rng: np.random.Generator, spec: ObjectSpec, p_extra: float) -> tuple[str, str, str]:
    return (_choose(rng, COLOR_WORDS[spec.color], EXTRA_COLOR_WORDS[spec.color], p_extra),
            _choose(rng, SHAPE_WORDS[spec.shape], EXTRA_SHAPE_WORDS[spec.shape], p_extra),
            _choose(rng, MOTION_WORDS[spec.motion], EXTRA_MOTION_WORDS[spec.motion], p_extra))


def caption_one(spec: ObjectSpec, background: str, rng: np.random.Generator, p_extra: float = 0.0) -> str:
    template = _choose(rng, TEMPLATES_ONE, EXTRA_TEMPLATES_ONE, p_extra)
    c, s, m = _wording(rng, spec, p_extra)
    return with_articles(template.format(c=c, s=s, m=m, b=_pick(rng, BACKGROUND_WORDS[background])))


def sample_scene(rng: np.random.Generator, *, p_two: float = 0.2, p_reference: float = 0.15,
                 p_extra: float = 0.0, triples: list[tuple[str, str, str]] | None = None) -> Scene:
    """Draw a random training scene (only training triples unless `triples` is given);
    `p_extra` is how often a word comes from the training-only wording."""
    pool = triples if triples is not None else training_triples()
    background = _pick(rng, list(BACKGROUNDS))
    bw = _pick(rng, BACKGROUND_WORDS[background])
    u = rng.random()
    if u < p_reference:
        motion = _pick(rng, list(MOTIONS))
        spec = ObjectSpec("white", "circle", motion)  # colour/shape unused: the sprite replaces them
        template = _pick(rng, TEMPLATES_REF)
        caption = template.format(p=_pick(rng, SUBJECT_WORDS),
                                  m=_choose(rng, MOTION_WORDS[motion], EXTRA_MOTION_WORDS[motion], p_extra), b=bw)
        return Scene(caption, (spec,), background, reference_seed=int(rng.integers(1 << 30)))
    if u < p_reference + p_two:
        a = ObjectSpec(*pool[int(rng.integers(len(pool)))])
        b = ObjectSpec(*pool[int(rng.integers(len(pool)))])
        (c, s, m), (c2, s2, m2) = _wording(rng, a, p_extra), _wording(rng, b, p_extra)
        caption = TEMPLATE_TWO.format(c=c, s=s, m=m, c2=c2, s2=s2, m2=m2, b=bw)
        return Scene(with_articles(caption), (a, b), background)
    spec = ObjectSpec(*pool[int(rng.integers(len(pool)))])
    return Scene(caption_one(spec, background, rng, p_extra), (spec,), background)


def grammar_eval_set(seed: int = 7) -> list[dict]:
    """The 200 grammar prompts of data/tiny_eval/grammar.jsonl: every held-out triple on every
    background, worded with a random template. Regenerating gives the identical list."""
    rng = np.random.default_rng(seed)
    items = []
    for color, shape, motion in held_out_triples():
        for background in BACKGROUNDS:
            caption = caption_one(ObjectSpec(color, shape, motion), background, rng)
            items.append({"prompt": caption, "expect": {"color": color, "shape": shape, "motion": motion,
                                                        "background": background},
                          "seed": int(rng.integers(1 << 31))})
    return items
