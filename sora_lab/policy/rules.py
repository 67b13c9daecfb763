"""The policy's rules: each a small function from the prompt under check to its refusals.

A refusal (a "reason") names the rule (`code`), the words (`span`, `words`), why (`message`)
and a fix (`fix`). `RULES` is the one list the service walks; its order is the order
reasons are reported in, and `enforce` quotes the first one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sora_lab.consent.rules import Restriction
from sora_lab.policy.matcher import Matcher, NameMatch
from sora_lab.policy.terms import AGE_RE
from sora_lab.policy.text_match import PhraseIndex, Token, without_mentions

TOPIC_SIMILARITY = 0.40
"""Cosine similarity (MiniLM, unit vectors) above which a prompt is "about" a cameo owner's forbidden topic."""
DESCRIPTION_SIMILARITY = 0.62
"""Above which a prompt describes a registered piece of IP without naming it."""

Span = tuple[int, int]


@dataclass
class Cameo:
    """A cameo the prompt refers to, its owner's parsed rules, and whether the checking user may use it now."""

    cameo_id: str
    handle: str
    kind: str
    owner_handle: str
    permission: str
    rules: list[Restriction]
    permitted: bool
    has_face: bool = True  # its reference holds a human face: the likeness content rules apply


@dataclass
class CameoRef:
    """One reference to a cameo: an @mention (with its span) or a `cameos=` entry (no span)."""

    ref: str
    span: Span | None
    cameo: Cameo | None  # None: no live cameo has this handle or id


@dataclass
class Prompt:
    """The prompt under check and everything the rules read.

    The prompt's MiniLM vector (`vector`) is computed at most once, and only when a rule
    needs it: most prompts are decided by the phrase matchers alone.
    """

    text: str
    tokens: list[Token]
    refs: list[CameoRef]
    figure_links: dict[str, str]  # public figure -> the cameo id of their own cameo
    matcher: Matcher
    embed: Callable[[str], np.ndarray]  # cached vectors of owner topics and IP descriptions
    embed_prompt: Callable[[str], np.ndarray]  # one uncached forward: every prompt pays for its own

    @cached_property
    def cameos(self) -> list[Cameo]:
        """Each cameo referred to, once, in order of first reference."""
        return list({r.cameo.cameo_id: r.cameo for r in self.refs if r.cameo}.values())

    @cached_property
    def permitted_cameos(self) -> list[Cameo]:
        return [c for c in self.cameos if c.permitted]

    @cached_property
    def names(self) -> list[NameMatch]:
        return self.matcher.find_names(self.text, self.tokens)

    @cached_property
    def vector(self) -> np.ndarray:
        """MiniLM vector of the prompt with its @handles left out: a handle says who, not what."""
        return self.embed_prompt(without_mentions(self.text))

    def reason(self, code: str, message: str, span: Span | None, fix: str, **extra: str | None) -> dict:
        """A refusal: the rule, why, the words it points at (if any), and a fix."""
        words = self.text[span[0] : span[1]] if span else None
        span_list = list(span) if span else None
        return {"code": code, "message": message, "span": span_list, "words": words, "fix": fix} | extra


# --- cameos ------------------------------------------------------------------------------------


def cameo_access(p: Prompt) -> list[dict]:
    """cameo_unknown / cameo_not_permitted: every reference is a cameo whose owner allows this user now."""
    out: list[dict] = []
    seen: set[str] = set()
    for r in p.refs:
        cam = r.cameo
        if cam is None:
            out.append(
                p.reason(
                    "cameo_unknown",
                    f"@{r.ref} is not a cameo in this lab",
                    r.span,
                    "check the handle (sora-lab cameo list), or write a description instead of an @mention",
                )
            )
            continue
        if not cam.permitted and cam.cameo_id not in seen:
            out.append(
                p.reason(
                    "cameo_not_permitted",
                    f"@{cam.handle}'s owner (@{cam.owner_handle}) has not allowed you to use this cameo "
                    f"(permission: {cam.permission})",
                    r.span,
                    f"ask @{cam.owner_handle} to approve you, or leave @{cam.handle} out",
                    cameo=cam.handle,
                )
            )
        seen.add(cam.cameo_id)
    return out


def owner_restrictions(p: Prompt) -> list[dict]:
    """cameo_restriction: a rule the owner of a usable cameo set ("no political content") that the prompt breaks."""
    out = []
    for cam in p.permitted_cameos:
        for rule in cam.rules:
            if rule.kind == "instruction":
                continue  # positive rules become instructions, see `instructions`
            hit = _restriction_hit(rule, p)
            if hit is None:
                continue
            span, how = hit
            out.append(
                p.reason(
                    "cameo_restriction",
                    f"@{cam.handle}'s owner set the rule \u201c{rule.text}\u201d and this prompt matches it ({how})",
                    span,
                    f"rephrase without that topic, or leave @{cam.handle} out",
                    cameo=cam.handle,
                )
            )
    return out


def _restriction_hit(rule: Restriction, p: Prompt) -> tuple[Span | None, str] | None:
    """Where (and how) the prompt breaks a negative rule: forbidden words, topic keywords, then MiniLM."""
    if rule.kind == "forbid_words":
        index = PhraseIndex()
        for w in rule.words:
            for form in (w, w + "s", w + "es"):  # plain plurals: "bananas"
                index.add(form, w)
        hits = index.find(p.tokens)
        if hits:
            return (hits[0].start, hits[0].end), f"the word \u201c{hits[0].payload}\u201d"
        return None
    for stem in rule.words:
        parts = stem.split()
        for i in range(len(p.tokens) - len(parts) + 1):
            window = p.tokens[i : i + len(parts)]
            if all(_keyword_hit(t.text, part) for t, part in zip(window, parts, strict=True)):
                start, end = window[0].start, window[-1].end
                return (start, end), f"keyword \u201c{p.text[start:end]}\u201d"
    similarity = float(p.vector @ p.embed(rule.topic))
    if similarity >= TOPIC_SIMILARITY:
        return None, f"semantic similarity {similarity:.2f} to \u201c{rule.topic}\u201d"
    return None


def _keyword_hit(word: str, stem: str) -> bool:
    """Prefix match for stems of 5+ letters ('politi' -> 'politics'); short ones need the
    word itself or a plain inflection ('gun' -> 'guns', not 'gunther'; 'meth' not 'method')."""
    if len(stem) >= 5:
        return word.startswith(stem)
    return word == stem or (word.startswith(stem) and word[len(stem) :] in ("s", "es", "ing", "ed", "er", "ers"))


# --- registries ----------------------------------------------------------------------------------


def registry_names(p: Prompt) -> list[dict]:
    """public_figure / rights_blocked / rights_unregistered: names from the registries, in prompt order."""
    out = []
    for m in p.names:
        rule = _NAME_RULES.get(m.entry.kind)
        reason = rule(p, m) if rule else None
        if reason:
            out.append(reason)
    return out


def _public_figure(p: Prompt, m: NameMatch) -> dict | None:
    """A real public figure, unless the prompt uses their own cameo and may."""
    if p.figure_links.get(m.entry.name) in {c.cameo_id for c in p.permitted_cameos}:
        return None
    return p.reason(
        "public_figure",
        f"\u201c{m.words}\u201d names {m.entry.name}, a real public figure; the lab does not depict "
        "real people without their own cameo",
        (m.start, m.end),
        "remove the name and describe an original person, or use their cameo (@handle) if they "
        "registered one and allow you",
        entity=m.entry.name,
    )


def _registered_ip(p: Prompt, m: NameMatch) -> dict | None:
    """IP a rights holder registered: their policy decides ('allow_with_attribution' adds a credit instead)."""
    if m.entry.status != "block":
        return None
    return p.reason(
        "rights_blocked",
        f"\u201c{m.words}\u201d is {m.entry.name}, registered by {m.entry.holder} with the policy 'block'",
        (m.start, m.end),
        "describe an original character instead",
        entity=m.entry.name,
        holder=m.entry.holder,
    )


def _famous_character(p: Prompt, m: NameMatch) -> dict | None:
    """A famous character nobody opted in is blocked by default; public-domain ones pass."""
    entry = m.entry
    if entry.status == "public_domain":
        return None
    return p.reason(
        "rights_unregistered",
        f"\u201c{m.words}\u201d is {entry.name}, a famous character"
        f"{' of ' + entry.holder if entry.holder else ''}; its rights holder has not opted in, "
        "so the lab blocks it by default",
        (m.start, m.end),
        "describe an original character instead, or ask the rights holder to register it with "
        "'allow' (sora-lab rights register)",
        entity=entry.name,
        holder=entry.holder,
    )


_NAME_RULES: dict[str, Callable[[Prompt, NameMatch], dict | None]] = {
    "public_figure": _public_figure,
    "registered_ip": _registered_ip,
    "character": _famous_character,
}


def described_ip(p: Prompt) -> list[dict]:
    """rights_blocked: blocked IP described but not named ('a time-travelling professor with a clockwork monocle')."""
    out = []
    named = {m.entry.name for m in p.names}
    for entry in p.matcher.described_candidates(p.tokens):
        if entry.status != "block" or entry.name in named:
            continue
        similarity = float(p.vector @ p.embed(entry.description))
        if similarity >= DESCRIPTION_SIMILARITY:
            out.append(
                p.reason(
                    "rights_blocked",
                    f"the prompt describes {entry.name} (similarity {similarity:.2f} to its registered "
                    f"description), registered by {entry.holder} with the policy 'block'",
                    None,
                    "describe something clearly original instead",
                    entity=entry.name,
                    holder=entry.holder,
                )
            )
    return out


# --- content ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentRule:
    """One content refusal: the category whose first hit it points at, and when it applies."""

    code: str
    category: str
    message: str
    fix: str
    with_any: tuple[str, ...] = ()  # only together with words of one of these categories
    real_person: bool = False  # only with a real person's likeness: a cameo showing a face, or a public figure
    yields_to: str = ""  # not when this stricter rule already refused


CONTENT_RULES = (
    ContentRule(
        "minors",
        "minor",
        "the prompt combines a minor with sexual or violent content, which the lab never generates",
        "remove the sexual or violent part; ordinary scenes with children are fine",
        with_any=("sexual_explicit", "sexual_suggestive", "graphic_violence", "violence"),
    ),
    ContentRule(
        "sexual_content",
        "sexual_explicit",
        "explicit sexual content is not generated in this lab",
        "remove the sexual content",
    ),
    ContentRule(
        "sexual_likeness",
        "sexual_suggestive",
        "sexualised content with a real person's likeness (a cameo with a face, or a public figure) is refused",
        "remove the sexualised part, or use no real person's likeness",
        real_person=True,
        yields_to="sexual_content",
    ),
    ContentRule(
        "graphic_violence",
        "graphic_violence",
        "graphic violence (gore, torture, mutilation, self-harm) is not generated in this lab",
        "describe the scene without the graphic violence",
    ),
    ContentRule(
        "violence_likeness",
        "violence",
        "violence against or by a real person's likeness (a cameo with a face, or a public figure) is refused",
        "remove the violent action, or use no real person's likeness",
        real_person=True,
        yields_to="graphic_violence",
    ),
)


def content(p: Prompt) -> list[dict]:
    """minors, sexual_content, sexual_likeness, graphic_violence, violence_likeness: the rows of CONTENT_RULES."""
    found = p.matcher.find_content(p.tokens)
    ages = [(m.start(), m.end()) for m in AGE_RE.finditer(p.text.casefold()) if int(m.group(1)) < 18]
    if ages:
        found["minor"] = found.get("minor", []) + ages
    real_person = any(c.has_face for c in p.permitted_cameos) or any(m.entry.kind == "public_figure" for m in p.names)
    out: list[dict] = []
    for rule in CONTENT_RULES:
        spans = found.get(rule.category)
        if (
            spans
            and (not rule.with_any or any(found.get(c) for c in rule.with_any))
            and (real_person or not rule.real_person)
            and rule.yields_to not in {r["code"] for r in out}
        ):
            out.append(p.reason(rule.code, rule.message, spans[0], rule.fix))
    return out


RULES: tuple[Callable[[Prompt], list[dict]], ...] = (
    cameo_access,
    owner_restrictions,
    registry_names,
    described_ip,
    content,
)
"""Every rule, in the order its reasons are reported."""


# --- what an allowed prompt carries to generation ------------------------------------------------------


def instructions(p: Prompt) -> list[str]:
    """Owners' positive rules ("always wearing a hat") for the cameos the prompt may use."""
    return [f"@{c.handle}: {rule.topic}" for c in p.permitted_cameos for rule in c.rules if rule.kind == "instruction"]


def attributions(p: Prompt) -> list[str]:
    """Credits the rights holders of 'allow_with_attribution' IP ask for."""
    return [
        m.entry.attribution or f"{m.entry.name} © {m.entry.holder}"
        for m in p.names
        if m.entry.kind == "registered_ip" and m.entry.status == "allow_with_attribution"
    ]
