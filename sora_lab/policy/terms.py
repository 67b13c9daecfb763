"""The content rules' vocabulary: phrase lists per category, and the phrases that only look bad.

Each list is 'word word word;multi word phrase;another phrase'. Terms are folded like
prompts (case, in-word punctuation, leetspeak, look-alike letters undone), so one
spelling per word is enough; terms of 8+ letters also match with small typos.
"""

from __future__ import annotations

import re

SEXUAL_EXPLICIT = """porn porno pornographic pornography nsfw xxx hentai sex sexual sexually intercourse orgasm
orgasms masturbate masturbating masturbation blowjob genitals genitalia penis vagina erotic erotica seggs secks
fetish bdsm onlyfans;sex tape;having sex;oral sex;sex scene""".replace("\n", " ")
SEXUAL_SUGGESTIVE = """nude nudes naked nudity topless undress undressing undressed striptease stripper strippers
stripping lingerie sexy seductive seductively sensual provocative provocatively;lap dance;making out;in underwear;
in her underwear;in his underwear;in a thong;bare breasted;no clothes;without clothes""".replace("\n", " ")
MINORS = """child children kid kids toddler toddlers infant infants newborn teen teens teenager teenagers teenage
preteen preteens tween tweens underage minor minors schoolgirl schoolgirls schoolboy schoolboys loli lolita shota
jailbait kindergartener;little girl;little boy;young girl;young boy;middle schooler;high schooler""".replace(
    "\n", " "
)
GRAPHIC_VIOLENCE = """gore gory gruesome decapitate decapitated decapitating decapitation behead beheaded
beheading beheads dismember dismembered dismembering dismemberment disembowel disemboweled disembowelled
disemboweling mutilate mutilated mutilating mutilation eviscerate eviscerated evisceration entrails bloodbath
massacre massacred massacring torture tortured torturing lynching lynched suicide;blood splatter;blood spatter;
covered in blood;pool of blood;guts spilling;slit throat;throat slit;slitting throat;shot in the head;
brains blown out;skinned alive;burned alive;burning alive;stabbed to death;beaten to death;hacked to death;
mass shooting;school shooting;execution style;firing squad;self harm;hanging himself;hanging herself""".replace(
    "\n", " "
)
VIOLENCE_AGAINST_PERSON = """stab stabs stabbed stabbing kill kills killed killing murder murders murdered
murdering assassinate assassinated assassinating assassination strangle strangled strangling punch punches
punched punching kidnap kidnapped kidnapping shoots;beat up;beats up;beaten up;beating up;gets shot;getting shot;
shot dead;shot at;shot by;shooting at;shoots at;at gunpoint;pointing a gun at;gun to head;run over by;
blown up;set on fire""".replace("\n", " ")
# Phrases that contain a flagged word but mean something ordinary.
BENIGN_PHRASES = """photo shoot;photoshoot;video shoot;film shoot;shooting star;shooting stars;shooting hoops;
shoot hoops;killing it;kills it;killed it;killer whale;naked eye;naked mole rat;nude lipstick;nude color;
nude colour;nude tones;nude heels;punch bowl;fruit punch;punch line;punchline;sexual health education;
minor chord;minor key;minor league;minor detail;minor details;kid goat;kids menu;kill time;killing time""".replace(
    "\n", " "
)

BENIGN = "benign"
CONTENT_LISTS = {
    "sexual_explicit": SEXUAL_EXPLICIT,
    "sexual_suggestive": SEXUAL_SUGGESTIVE,
    "minor": MINORS,
    "graphic_violence": GRAPHIC_VIOLENCE,
    "violence": VIOLENCE_AGAINST_PERSON,
    BENIGN: BENIGN_PHRASES,
}
"""Category -> phrase list; a hit inside a benign phrase counts for no category."""

AGE_RE = re.compile(r"\b(\d{1,2})\s*[- ]?\s*(?:years?|yrs?|yo)\b(?:[- ]?old)?")
"""'12-year-old', '9 yo': an age under 18 counts as a minor (matched on the casefolded prompt)."""


def content_terms(spec: str) -> list[str]:
    """'a b c;multi word;other' -> first chunk split into words, later chunks kept as phrases."""
    chunks = [c.strip() for c in spec.split(";") if c.strip()]
    return chunks[0].split() + chunks[1:]
