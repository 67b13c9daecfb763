"""Registry names and content phrases compiled into phrase indexes, found in a tokenized prompt.

One Matcher per registry state: the service rebuilds it when the shipped or lab-home
registries or the rights holders' registrations change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sora_lab.consent.rights import RegistryEntry
from sora_lab.policy.terms import BENIGN, CONTENT_LISTS, content_terms
from sora_lab.policy.text_match import PhraseIndex, Token, tokenize

# Words before an ambiguous name that make it an ordinary noun: "a drake", "the prince", "named Mario".
_DETERMINERS = frozenset(
    "a an the some my your his her our their its this that these those every each one two another any "
    "named called no little big baby young old".split()
)
# Words that make a signature work a description of its person: "who sang Shake It Off", "the founder of
# Tesla", "starred in Titanic". Only "in", "of" or "the" may stand between them and the work.
_DESCRIBERS = frozenset(
    "sang sings singer wrote played plays starred stars star directed founded founder cofounded ceo created "
    "creator rapped rapper".split()
)
_DESCRIBER_GAP = frozenset({"in", "of", "the"})
# Words too common to tell one description from another.
_FILLER = frozenset("with that this from into have has wears wearing their there very".split())


@dataclass
class NameMatch:
    """A registry name found in the prompt: the entry, where, the words as typed, and the typo count."""

    entry: RegistryEntry
    start: int
    end: int
    words: str
    distance: int


class Matcher:
    """Finds registry names, content phrases and described IP in a prompt's tokens."""

    def __init__(self, entries: list[RegistryEntry]):
        self.names = PhraseIndex()
        for entry in entries:
            for phrase in (entry.name, *entry.aliases):
                ambiguous = phrase.casefold() in entry.ambiguous
                self.names.add(phrase, (entry, ambiguous), fuzzy=not ambiguous)
            for phrase in entry.ambiguous:
                if phrase not in {p.casefold() for p in (entry.name, *entry.aliases)}:
                    self.names.add(phrase, (entry, True), fuzzy=False)
        self.works = PhraseIndex()
        for entry in entries:
            for work in entry.known_for:
                self.works.add(work, entry, fuzzy=False)
        self.content = PhraseIndex()
        for category, spec in CONTENT_LISTS.items():
            for term in content_terms(spec):
                self.content.add(term, category, fuzzy=len(term) >= 8)
        self._described = [
            (e, {_stem5(t.text) for t in tokenize(e.description) if len(t.text) >= 4 and t.text not in _FILLER})
            for e in entries
            if e.kind == "registered_ip" and e.description
        ]

    def find_names(self, prompt: str, tokens: list[Token]) -> list[NameMatch]:
        """Each registry entry named in the prompt once (its closest, longest match), in prompt order."""
        found: dict[tuple, NameMatch] = {}
        for hit in self.names.find(tokens):
            entry, ambiguous = hit.payload
            if ambiguous and _ordinary_use(tokens, hit.token_start, hit.token_end):
                continue
            key = (entry.kind, entry.name)
            m = NameMatch(entry, hit.start, hit.end, prompt[hit.start : hit.end], hit.distance)
            if key not in found or _closeness(m) < _closeness(found[key]):
                found[key] = m
        for hit in self.works.find(tokens):
            start = _describer_before(tokens, hit.token_start)
            key = (hit.payload.kind, hit.payload.name)
            if start is not None and key not in found:  # "who sang Shake It Off": described, not named
                at = tokens[start].start
                found[key] = NameMatch(hit.payload, at, hit.end, prompt[at : hit.end], hit.distance)
        matches = list(found.values())
        registered = [m for m in matches if m.entry.kind == "registered_ip"]
        # A rights holder's registration overrides the shipped registry for the same words.
        return [
            m
            for m in matches
            if m.entry.kind == "registered_ip" or not any(_overlap(m, r) for r in registered)
        ]

    def find_content(self, tokens: list[Token]) -> dict[str, list[tuple[int, int]]]:
        """Category -> character spans of its phrases, skipping hits inside a benign phrase."""
        hits = self.content.find(tokens)
        benign = [(h.token_start, h.token_end) for h in hits if h.payload == BENIGN]
        out: dict[str, list[tuple[int, int]]] = {}
        for h in hits:
            if h.payload == BENIGN:
                continue
            if any(b0 <= h.token_start and h.token_end <= b1 for b0, b1 in benign):
                continue
            out.setdefault(h.payload, []).append((h.start, h.end))
        return out

    def described_candidates(self, tokens: list[Token]) -> list[RegistryEntry]:
        """Registered IP whose description shares 2+ content words with the prompt: the cheap
        gate before a MiniLM forward decides whether the prompt describes it."""
        prompt_stems = {_stem5(t.text) for t in tokens if len(t.text) >= 4}
        return [entry for entry, stems in self._described if len(prompt_stems & stems) >= 2]


def _stem5(word: str) -> str:
    return word[:5]


def _closeness(m: NameMatch) -> tuple[int, int]:
    """Fewer typos first, then the longer match."""
    return m.distance, -(m.end - m.start)


def _ordinary_use(tokens: list[Token], start: int, end: int) -> bool:
    """An ambiguous name used as an ordinary word: after a determiner or 'named' ("a drake",
    "named Mario"), or followed by 'of' ("the flash of a camera", "a prince of thieves")."""
    if end < len(tokens) and tokens[end].text == "of" and not tokens[end].hard_break_before:
        return True
    if start == 0 or tokens[start].hard_break_before:
        return False
    return tokens[start - 1].text in _DETERMINERS


def _describer_before(tokens: list[Token], start: int) -> int | None:
    """The index of a describing word ("sang", "founder") just before token `start`, with at most
    "in", "of" or "the" between them and no sentence break; None when there is none."""
    i = start - 1
    while i >= 0 and not tokens[i + 1].hard_break_before:
        if tokens[i].text in _DESCRIBERS:
            return i
        if tokens[i].text not in _DESCRIBER_GAP:
            return None
        i -= 1
    return None


def _overlap(a: NameMatch, b: NameMatch) -> bool:
    return a.start < b.end and b.start < a.end
