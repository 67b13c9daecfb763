"""Motion verbs no training caption uses, grounded in WordNet rather than in MiniLM's guess.

Why: the prompt reader's motion readout was fitted on training captions, so a verb they lack ("surfacing",
"sagging", "spiralling") gets only MiniLM's guess, which often lands on the wrong motion. WordNet 3.0 knows
what such verbs mean: a verb whose senses, or the senses they are a kind of, include a training motion phrase
("surface" is a kind of "rise"; "sag" of "sink") moves that way. `motion_verbs.json` holds every inflected form
of such verbs that points to one motion only; `TinyBackend.readings` puts that motion in place of the reader's.

The table is built once from WordNet (`python -m sora_lab.generate.tiny.motion_verbs`, needs nltk and Debian's
wordnet-base) and shipped, so generation needs neither.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from sora_lab.core.home import write_json_atomic
from sora_lab.generate.tiny.captions import MOTION_WORDS, training_vocabulary, unfamiliar_words, words_of
from sora_lab.generate.tiny.synonyms import EXTRA_MOTION_WORDS

TABLE_FILE = Path(__file__).resolve().parent / "motion_verbs.json"
WORDNET_DIR = Path("/usr/share/wordnet")  # Debian's wordnet-base
# WordNet's 45 lexicographer files, in their fixed order; nltk reads them from a "lexnames" file Debian leaves out.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition "
    "noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
    "verb.social verb.stative verb.weather adj.ppl"
).split()


@functools.cache
def motion_forms() -> dict[str, str]:
    """Verb form -> motion, from the shipped table."""
    return json.loads(TABLE_FILE.read_text())["forms"]


def named_motion(prompt: str) -> str | None:
    """The motion the prompt's unfamiliar verbs name, when they name exactly one; else None."""
    forms = motion_forms()
    values = {forms[w] for w in unfamiliar_words(prompt) if w in forms}
    return values.pop() if len(values) == 1 else None


@contextlib.contextmanager
def wordnet_reader(wordnet_dir: Path):
    """nltk's WordNet reader over a WordNet 3.0 database folder, copied to a temporary folder put on nltk's data
    path while the reader is in use (nltk reads only folders there)."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class Reader(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None  # maps other WordNet versions for multilingual data: none here, and it costs ~10 s

    missing = [name for name in ("data.verb", "index.verb", "verb.exc", "cntlist.rev")
               if not (wordnet_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{wordnet_dir} lacks {', '.join(missing)}: install Debian's wordnet-base "
                                "(make wordnet), or pass a WordNet 3.0 database folder")
    with tempfile.TemporaryDirectory(prefix="sora-lab-wordnet-") as workdir:
        corpus = Path(workdir) / "corpora" / "wordnet"
        _copy_database(wordnet_dir, corpus)
        nltk.data.path.insert(0, workdir)
        try:
            with warnings.catch_warnings():  # nltk warns that Open Multilingual Wordnet data is absent; none is used
                warnings.filterwarnings("ignore", message="The multilingual functions")
                reader = Reader(str(corpus), None)
            yield reader
        finally:
            nltk.data.path.remove(workdir)


def _copy_database(wordnet_dir: Path, corpus: Path) -> None:
    """The files nltk opens, plus the "lexnames" file Debian leaves out."""
    corpus.mkdir(parents=True)
    for pos in ("noun", "verb", "adj", "adv"):
        for name in (f"data.{pos}", f"index.{pos}", f"{pos}.exc"):
            shutil.copyfile(wordnet_dir / name, corpus / name)
    shutil.copyfile(wordnet_dir / "cntlist.rev", corpus / "cntlist.rev")
    if (wordnet_dir / "lexnames").is_file():
        shutil.copyfile(wordnet_dir / "lexnames", corpus / "lexnames")
    else:
        category = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
        (corpus / "lexnames").write_text("".join(f"{i:02d}\t{name}\t{category[name.split('.')[0]]}\n"
                                                 for i, name in enumerate(LEXNAMES)))


def training_motion_lemmas(wn) -> dict[str, str]:
    """Lemmatised training motion phrase ("goes up" -> "go_up") -> its motion, for phrases of one motion only."""
    owners: dict[str, set[str]] = {}
    for table in (MOTION_WORDS, EXTRA_MOTION_WORDS):
        for value, phrases in table.items():
            for phrase in phrases:
                words = words_of(phrase)
                lemma = "_".join([wn.morphy(words[0], "v") or words[0], *words[1:]])
                owners.setdefault(lemma, set()).add(value)
    return {lemma: values.pop() for lemma, values in owners.items() if len(values) == 1}


def _tag_count(wn, word: str, pos: str) -> int:
    """How often (SemCor tag counts) `word` is used in this part of speech."""
    base = wn.morphy(word, pos)
    if base is None:
        return 0
    return sum(lemma.count() for synset in wn.synsets(base, pos) for lemma in synset.lemmas()
               if lemma.name().lower() == base)


def _inflections(lemma: str) -> set[str]:
    """English spellings of a regular verb's forms (both ways where a final consonant may double: "spiralling",
    "spiraling"); build_table keeps those WordNet reads back as the verb. Irregular ones come from verb.exc."""
    vowels = "aeiou"
    if lemma.endswith(("s", "x", "z", "ch", "sh", "o")):
        third = lemma + "es"
    elif lemma.endswith("y") and lemma[-2:-1] not in vowels:
        third = lemma[:-1] + "ies"
    else:
        third = lemma + "s"
    if lemma.endswith("e"):
        past, ing = {lemma + "d"}, {lemma[:-2] + "ying"} if lemma.endswith("ie") else {lemma[:-1] + "ing"}
        if lemma.endswith(("ee", "ye", "oe")):
            ing = {lemma + "ing"}
    elif lemma.endswith("y") and lemma[-2:-1] not in vowels:
        past, ing = {lemma[:-1] + "ied"}, {lemma + "ing"}
    else:
        past, ing = {lemma + "ed"}, {lemma + "ing"}
        if len(lemma) > 2 and lemma[-1] not in vowels + "wxy" and lemma[-2] in vowels and lemma[-3] not in vowels:
            past.add(lemma + lemma[-1] + "ed")
            ing.add(lemma + lemma[-1] + "ing")
    return {lemma, third} | past | ing


RULE = ("every form of a WordNet verb whose senses or their direct hypernyms reach training motion phrases of one "
        "motion only, unless training captions use the form or its noun and adjective readings are together more "
        "common (SemCor tag counts)")


def build_table(wordnet_dir: Path = WORDNET_DIR) -> dict:
    """The table `motion_forms` reads: see RULE."""
    with wordnet_reader(wordnet_dir) as wn:
        return _build(wn, wordnet_dir)


def _build(wn, wordnet_dir: Path) -> dict:
    seeds = training_motion_lemmas(wn)
    reached: dict[str, set[str]] = {}
    for synset in wn.all_synsets("v"):
        names = {name.lower() for s in (synset, *synset.hypernyms()) for name in s.lemma_names()}
        values = {seeds[name] for name in names if name in seeds}
        for lemma in synset.lemma_names():
            if lemma.isalpha():
                reached.setdefault(lemma.lower(), set()).update(values)
    exceptions: dict[str, set[str]] = {}  # irregular forms ("spun" of "spin"), from WordNet's verb.exc
    for line in (wordnet_dir / "verb.exc").read_text().splitlines():
        form, *bases = line.split()
        for base in bases:
            exceptions.setdefault(base, set()).add(form)
    vocab = training_vocabulary()
    owners: dict[str, set[str]] = {}
    for lemma, values in reached.items():
        if len(values) != 1:
            continue
        for form in _inflections(lemma) | exceptions.get(lemma, set()):
            if form in vocab or wn.morphy(form, "v") != lemma:
                continue
            if _tag_count(wn, form, "v") < _tag_count(wn, form, "n") + _tag_count(wn, form, "a"):
                continue
            owners.setdefault(form, set()).update(values)
    forms = {form: values.pop() for form, values in sorted(owners.items()) if len(values) == 1}
    return {"source": f"WordNet {wn.get_version()} (Princeton University), read with nltk {_nltk_version()}",
            "license": "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. See WORDNET_LICENSE.",
            "rule": RULE, "forms": forms}


def _nltk_version() -> str:
    import nltk

    return nltk.__version__


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else WORDNET_DIR
    built = build_table(source)
    write_json_atomic(TABLE_FILE, built)  # atomic: a reader never sees half a table
    print(f"{TABLE_FILE}: {len(built['forms'])} verb forms")
