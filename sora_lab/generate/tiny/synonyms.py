"""Wording that only training captions use: more ways to say each colour, shape and motion.

Why: the model reads prompts through MiniLM, whose neighbourhoods put "vermilion" near "red"
and "sphere" near "ball". The more distinct words the model has seen for one attribute, the
more of that neighbourhood it learns to treat alike, which is what lets unseen words in user
prompts work. Motions come both as verbs and as "-ing" forms, since prompts use both. The
grammar eval set keeps the core vocabulary of `captions.py`.

Rule: no word here (nor a word sharing its first five letters) appears in the hand-written
paraphrase eval set (data/tiny_eval/paraphrases.jsonl) unless the core grammar already has it;
a test enforces this, so the paraphrase score still measures words the model never saw.
"""

from __future__ import annotations

EXTRA_COLOR_WORDS: dict[str, list[str]] = {
    "red": [
        "vermilion", "cardinal red", "tomato red", "fire-engine red", "blood red", "maroon", "burgundy", "garnet",
        "carmine", "brick red", "poppy red", "candy-apple red", "wine red", "strawberry red", "red jasper",
        "garnet red",
    ],
    "green": [
        "grass green", "kelly green", "mint green", "pea green", "verdant", "olive green", "sage green",
        "moss green", "fern green", "chartreuse", "apple green", "shamrock", "clover green", "pistachio", "peridot",
        "malachite",
    ],
    "blue": [
        "cerulean", "royal blue", "ultramarine", "electric blue", "denim blue", "cornflower blue", "powder blue",
        "baby blue", "steel blue", "ocean blue", "lapis", "bluebell", "true blue", "sea blue", "tanzanite",
        "lapis lazuli",
    ],
    "yellow": [
        "mustard", "butter yellow", "banana yellow", "saffron", "dandelion yellow", "buttercup", "sunflower yellow",
        "honey yellow", "citrine", "daffodil", "straw yellow", "maize", "corn yellow", "school-bus yellow", "topaz",
        "yellow topaz",
    ],
    "purple": [
        "amethyst", "lilac", "grape", "orchid", "heather purple", "eggplant", "aubergine", "mulberry", "wisteria",
        "iris purple", "royal purple", "purplish", "thistle purple", "byzantium", "purple quartz",
        "amethyst purple",
    ],
    "orange": [
        "apricot", "carrot orange", "marigold", "burnt orange", "persimmon", "ginger", "copper", "cantaloupe",
        "papaya", "mango", "clementine", "traffic-cone orange", "tiger orange", "flame orange", "carnelian",
        "fire opal",
    ],
    "white": [
        "pearl", "cream", "alabaster", "porcelain", "frost white", "bone white", "paper white", "cotton white",
        "linen", "eggshell", "vanilla", "ghost white", "cloud white", "lily white", "moonstone", "white opal",
    ],
    "pink": [
        "fuchsia", "blush pink", "flamingo pink", "magenta", "carnation pink", "coral pink", "baby pink",
        "cotton-candy pink", "petal pink", "candy pink", "cerise", "ballet pink", "watermelon pink", "peony pink",
        "morganite", "pink tourmaline",
    ],
}
EXTRA_SHAPE_WORDS: dict[str, list[str]] = {
    "circle": [
        "sphere", "globe", "marble", "bead", "circular figure", "pebble", "pellet", "button", "planet", "wheel",
        "disk", "circular blob",
    ],
    "square": [
        "crate", "quadrilateral", "four-sided figure", "squared figure", "checker", "slab", "panel", "card",
        "rectangle", "plaque", "quad", "squarish form", "dice", "brick",
    ],
    "triangle": [
        "wedge", "three-sided figure", "triangular figure", "arrowhead", "delta", "cone", "trigon", "spike",
        "slice", "peak", "tent form", "three-cornered form",
    ],
    "star": [
        "starburst", "star figure", "spiky star", "starlet", "twinkly star", "pentagram", "starfish", "sparkle",
        "asterisk", "star form", "starry figure", "prickly star",
    ],
}
EXTRA_MOTION_WORDS: dict[str, list[str]] = {
    "right": [
        "goes right", "shifts right", "crosses to the right", "scoots to the right", "races right", "darts right",
        "veers right", "zips right", "hurries right", "marches right", "creeps right",
        "going right", "shifting right", "scooting to the right", "racing right", "darting right", "zipping right",
        "marching right", "veering right",
    ],
    "left": [
        "goes left", "shifts left", "crosses to the left", "scoots to the left", "races left", "darts left",
        "veers left", "zips left", "hurries left", "marches left", "creeps left",
        "going left", "shifting left", "scooting to the left", "racing left", "darting left", "zipping left",
        "marching left", "veering left",
    ],
    "up": [
        "goes up", "soars", "lifts up", "travels up", "flies up", "shoots up", "zooms up", "levitates", "darts up",
        "creeps up", "heads skyward",
        "going up", "soaring", "lifting up", "flying up", "shooting up", "levitating", "zooming up", "darting up",
    ],
    "down": [
        "goes down", "comes down", "travels down", "slips down", "plunges", "dives", "zooms down", "darts down",
        "slides down", "creeps down", "settles lower",
        "going down", "coming down", "slipping down", "plunging", "diving", "zooming down", "darting down",
        "settling lower",
    ],
    "grows": [
        "scales up", "balloons", "gets huge", "puffs up", "widens", "magnifies", "bulks up", "blows up",
        "becomes bigger", "mushrooms", "gains volume",
        "scaling up", "ballooning", "puffing up", "widening", "blowing up", "becoming bigger", "mushrooming",
        "bulking up",
    ],
    "shrinks": [
        "scales down", "diminishes", "becomes small", "gets little", "reduces", "deflates", "decreases",
        "becomes a speck", "narrows", "condenses", "withers",
        "scaling down", "diminishing", "deflating", "decreasing", "narrowing", "condensing", "withering",
        "becoming small",
    ],
    "spins": [
        "twists", "revolves", "swivels", "twists around", "spins about", "gyrates", "swirls", "pivots",
        "wheels around", "revolves around its centre", "cartwheels",
        "twisting", "revolving", "swiveling", "gyrating", "swirling", "pivoting", "cartwheeling",
        "wheeling around",
    ],
    "bounces": [
        "leaps", "bobs up and down", "springs up and down", "skips", "rebounds", "bounds", "pogos", "boings",
        "springs", "dribbles", "keeps springing",
        "leaping", "bobbing up and down", "springing up and down", "skipping", "rebounding", "bounding",
        "pogoing", "springing",
    ],
}
EXTRA_TEMPLATES_ONE = [
    "clip: a {c} {s} {m}, {b} background",
    "this is a {c} {s} who {m} with a {b} background",
    "single {c} {s} {m}; background {b}",
    "a {c} {s} {m} here, all {b} behind",
    "look at the {c} {s} as it {m}, {b} behind it",
    "here a {c} {s} {m} with {b} all around",
    "the {c} {s} {m} and the background is {b}",
    "we see a single {c} {s}. it {m}. {b} background",
]
