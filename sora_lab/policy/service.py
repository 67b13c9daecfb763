"""The prompt policy: every generation and every publish asks it first.

    policy.check(prompt="@maya surfing at dawn", actor_id=...) ->
        {"allowed": True, "reasons": [], "cameo_ids": ["cam_..."], "instructions": ["@maya: wearing a hat"]}

Rules, each refusal naming the rule (`code`), the words (`span`, `words`) and a fix:
  cameo_unknown / cameo_not_permitted — `@handle` mentions (and `cameos=`) resolve to
      cameos whose owner must currently allow this user;
  cameo_restriction — the owner's negative rules, matched by keywords and MiniLM similarity;
  public_figure — a registered real person, unless the prompt uses their own cameo;
  rights_blocked / rights_unregistered — characters: the rights holder's policy, and
      block for famous characters nobody opted in (public-domain ones pass);
  sexual_content, sexual_likeness, minors, graphic_violence, violence_likeness — content.

Matching folds case, spacing, in-word punctuation, leetspeak, look-alike letters,
zero-width characters and small typos (sora_lab.policy.text_match), while ordinary
words ("a mouse", "a washington apple", "a man named Sam") stay allowed.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sora_lab.consent.rights import RegistryEntry, RightsService, load_registry, registry_signature, rights_version
from sora_lab.consent.rules import Restriction, parse_restriction, permission_sql
from sora_lab.core.errors import InputError, PolicyViolation
from sora_lab.core.ids import utcnow
from sora_lab.policy.text_match import PhraseIndex, Token, handle_mentions, tokenize
from sora_lab.store.db import Store
from sora_lab.store.events import append_event

MAX_PROMPT_CHARS = 2000
MAX_CAMEOS = 8
# Cosine similarity (MiniLM, unit vectors) above which a prompt is "about" a restricted topic.
TOPIC_SIMILARITY = 0.40
# Above which a prompt describes a registered piece of IP without naming it.
DESCRIPTION_SIMILARITY = 0.62

# Words before an ambiguous name that make it an ordinary noun: "a drake", "the prince", "named Mario".
_DETERMINERS = frozenset(
    "a an the some my your his her our their its this that these those every each one two another any "
    "named called no little big baby young old".split()
)

# --- content rules: phrase lists (folded like prompts; in-word punctuation and leetspeak undone) ---
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

_CONTENT_LISTS = {
    "sexual_explicit": SEXUAL_EXPLICIT,
    "sexual_suggestive": SEXUAL_SUGGESTIVE,
    "minor": MINORS,
    "graphic_violence": GRAPHIC_VIOLENCE,
    "violence": VIOLENCE_AGAINST_PERSON,
    "benign": BENIGN_PHRASES,
}
_AGE_RE = re.compile(r"\b(\d{1,2})\s*[- ]?\s*(?:years?|yrs?|yo)\b(?:[- ]?old)?")


def _content_terms(spec: str) -> list[str]:
    """'a b c;multi word;other' -> first chunk split into words, later chunks kept as phrases."""
    chunks = [c.strip() for c in spec.split(";") if c.strip()]
    return chunks[0].split() + chunks[1:]


@dataclass
class _Match:
    """A registry name found in the prompt."""

    entry: RegistryEntry
    start: int
    end: int
    words: str
    distance: int


class _Matcher:
    """Registry names and content phrases compiled into phrase indexes (rebuilt when registries change)."""

    def __init__(self, entries: list[RegistryEntry]):
        self.names = PhraseIndex()
        for entry in entries:
            for phrase in (entry.name, *entry.aliases):
                ambiguous = phrase.casefold() in entry.ambiguous
                self.names.add(phrase, (entry, ambiguous), fuzzy=not ambiguous)
            for phrase in entry.ambiguous:
                if phrase not in {p.casefold() for p in (entry.name, *entry.aliases)}:
                    self.names.add(phrase, (entry, True), fuzzy=False)
        self.content = PhraseIndex()
        for category, spec in _CONTENT_LISTS.items():
            for term in _content_terms(spec):
                self.content.add(term, category, fuzzy=len(term) >= 8)
        self.described = [e for e in entries if e.kind == "registered_ip" and e.description]
        self.description_stems = {
            e.name: {_stem5(t.text) for t in tokenize(e.description) if len(t.text) >= 4 and t.text not in _FILLER}
            for e in self.described
        }

    def find_names(self, prompt: str, tokens: list[Token]) -> list[_Match]:
        found: dict[tuple, _Match] = {}
        for hit in self.names.find(tokens):
            entry, ambiguous = hit.payload
            if ambiguous and _ordinary_use(tokens, hit.token_start, hit.token_end):
                continue
            key = (entry.kind, entry.name)
            m = _Match(entry, hit.start, hit.end, prompt[hit.start : hit.end], hit.distance)
            if key not in found or (m.distance, -(m.end - m.start)) < (
                found[key].distance,
                -(found[key].end - found[key].start),
            ):
                found[key] = m
        matches = list(found.values())
        registered = [m for m in matches if m.entry.kind == "registered_ip"]
        # A rights holder's registration overrides the shipped registry for the same words.
        return [
            m
            for m in matches
            if m.entry.kind == "registered_ip" or not any(_overlap(m, r) for r in registered)
        ]

    def find_content(self, tokens: list[Token]) -> dict[str, list[tuple[int, int]]]:
        hits = self.content.find(tokens)
        benign = [(h.token_start, h.token_end) for h in hits if h.payload == "benign"]
        out: dict[str, list[tuple[int, int]]] = {}
        for h in hits:
            if h.payload == "benign":
                continue
            if any(b0 <= h.token_start and h.token_end <= b1 for b0, b1 in benign):
                continue
            out.setdefault(h.payload, []).append((h.start, h.end))
        return out


_FILLER = frozenset("with that this from into have has wears wearing their there very".split())


def _stem5(word: str) -> str:
    return word[:5]


def _ordinary_use(tokens: list[Token], start: int, end: int) -> bool:
    """An ambiguous name used as an ordinary word: after a determiner or 'named' ("a drake",
    "named Mario"), or followed by 'of' ("the flash of a camera", "a prince of thieves")."""
    if end < len(tokens) and tokens[end].text == "of" and not tokens[end].hard_break_before:
        return True
    if start == 0 or tokens[start].hard_break_before:
        return False
    return tokens[start - 1].text in _DETERMINERS


def _overlap(a: _Match, b: _Match) -> bool:
    return a.start < b.end and b.start < a.end


@dataclass
class _Cameo:
    cameo_id: str
    handle: str
    kind: str
    owner_id: str
    owner_handle: str
    permission: str
    restrictions: list[str]
    permitted: bool


def _reason(code: str, message: str, span: tuple[int, int] | None, prompt: str, fix: str, **extra) -> dict:
    words = prompt[span[0] : span[1]] if span else None
    return {"code": code, "message": message, "span": list(span) if span else None, "words": words, "fix": fix} | extra


class PolicyService:
    """Decides whether a prompt may be generated or published, and explains why not."""

    def __init__(self, store: Store, home: Path, *, rights: RightsService):
        self.store = store
        self.home = home
        self.rights = rights
        self._lock = threading.Lock()
        self._matcher: _Matcher | None = None
        self._matcher_sig: tuple | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._topic_hint: dict[str, bool] = {}  # cameo handle/id -> has topic rules (see check)
        self.prompt_forwards = 0  # MiniLM forwards spent on prompts (benchmarks split latency by it)

    # --- public ------------------------------------------------------------------
    def check(self, *, prompt: str, actor_id: str, cameos: list[str] | None = None) -> dict:
        """The decision for `actor_id` generating `prompt` with `cameos` (handles or cameo ids)."""
        prompt, wanted = _validate(prompt, cameos)
        tokens = tokenize(prompt)
        matcher = self._current_matcher()
        reasons: list[dict] = []
        instructions: list[str] = []
        attributions: list[str] = []
        prompt_vec: list[np.ndarray] = []  # computed at most once, only if a rule needs it
        # A prompt naming cameos with topic rules will need its MiniLM forward: start it on the other
        # core now, while the cameo rows are read, instead of after (saves ~4 ms of p95). Which cameos
        # have topic rules is a hint remembered from earlier checks; a stale hint only costs time.
        refs = wanted + [h for h, _, _ in handle_mentions(prompt)] if wanted or "@" in prompt else []
        early = None
        if any(self._topic_hint.get(ref, True) for ref in refs):
            early = _EMBEDDER.submit(_embed_one, _without_mentions(prompt))

        def vector() -> np.ndarray:
            if not prompt_vec:  # prompts are not cached: each check pays for its own forward
                prompt_vec.append(early.result() if early else _embed_one(_without_mentions(prompt)))
                self.prompt_forwards += 1
            return prompt_vec[0]

        used = self._resolve_cameos(prompt, wanted, actor_id, reasons)
        for cam in used:
            has_topics = any(parse_restriction(r).kind == "forbid_topic" for r in cam.restrictions)
            self._topic_hint[cam.handle] = self._topic_hint[cam.cameo_id] = has_topics
        for cam in used:
            if not cam.permitted:
                continue
            for rule_text in cam.restrictions:
                rule = parse_restriction(rule_text)
                if rule.kind == "instruction":
                    instructions.append(f"@{cam.handle}: {rule.topic}")
                    continue
                hit = self._restriction_hit(rule, prompt, tokens, vector)
                if hit is not None:
                    span, how = hit
                    reasons.append(
                        _reason(
                            "cameo_restriction",
                            f"@{cam.handle}'s owner set the rule \u201c{rule.text}\u201d and this prompt matches it "
                            f"({how})",
                            span,
                            prompt,
                            f"rephrase without that topic, or leave @{cam.handle} out",
                            cameo=cam.handle,
                        )
                    )

        permitted_ids = {c.cameo_id for c in used if c.permitted}
        person_cameo = any(c.kind == "person" for c in used if c.permitted)
        figure_links = self._figure_links() if used else {}
        names = matcher.find_names(prompt, tokens)
        public_figures = []
        for m in names:
            entry = m.entry
            if entry.kind == "public_figure":
                public_figures.append(m)
                if figure_links.get(entry.name) in permitted_ids:
                    continue
                reasons.append(
                    _reason(
                        "public_figure",
                        f"\u201c{m.words}\u201d names {entry.name}, a real public figure; the lab does not depict "
                        "real people without their own cameo",
                        (m.start, m.end),
                        prompt,
                        "remove the name and describe an original person, or use their cameo (@handle) if they "
                        "registered one and allow you",
                        entity=entry.name,
                    )
                )
            elif entry.kind == "registered_ip":
                if entry.status == "block":
                    reasons.append(
                        _reason(
                            "rights_blocked",
                            f"\u201c{m.words}\u201d is {entry.name}, registered by {entry.holder} with the policy "
                            "'block'",
                            (m.start, m.end),
                            prompt,
                            "describe an original character instead",
                            entity=entry.name,
                            holder=entry.holder,
                        )
                    )
                elif entry.status == "allow_with_attribution":
                    attributions.append(entry.attribution or f"{entry.name} © {entry.holder}")
            elif entry.kind == "character" and entry.status != "public_domain":
                reasons.append(
                    _reason(
                        "rights_unregistered",
                        f"\u201c{m.words}\u201d is {entry.name}, a famous character"
                        f"{' of ' + entry.holder if entry.holder else ''}; its rights holder has not opted in, "
                        "so the lab blocks it by default",
                        (m.start, m.end),
                        prompt,
                        "describe an original character instead, or ask the rights holder to register it with "
                        "'allow' (sora-lab rights register)",
                        entity=entry.name,
                        holder=entry.holder,
                    )
                )
        reasons += self._description_hits(matcher, prompt, names, vector)

        real_person = person_cameo or bool(public_figures)
        reasons += _content_reasons(matcher.find_content(tokens), prompt, real_person)

        allowed = not reasons
        self._audit(actor_id, used, allowed, reasons)
        return {
            "allowed": allowed,
            "reasons": reasons,
            "cameo_ids": [c.cameo_id for c in used if c.permitted],
            "instructions": instructions if allowed else [],
            "attributions": attributions if allowed else [],
        }

    def enforce(self, *, prompt: str, actor_id: str, cameos: list[str] | None = None) -> dict:
        """`check`, raising PolicyViolation (with the reasons) when the prompt is refused."""
        decision = self.check(prompt=prompt, actor_id=actor_id, cameos=cameos)
        if not decision["allowed"]:
            first = decision["reasons"][0]
            more = len(decision["reasons"]) - 1
            raise PolicyViolation(
                f"prompt refused ({first['code']}): {first['message']}; {first['fix']}"
                + (f" (+{more} more reason{'s' if more > 1 else ''})" if more else ""),
                decision["reasons"],
            )
        return decision

    # --- cameos ----------------------------------------------------------------------
    def _resolve_cameos(self, prompt: str, wanted: list[str], actor_id: str, reasons: list[dict]) -> list[_Cameo]:
        mentions = handle_mentions(prompt)
        refs: list[tuple[str, tuple[int, int] | None]] = [(h, (s, e)) for h, s, e in mentions]
        refs += [(w, None) for w in wanted]
        if not refs:
            return []
        keys = sorted({r for r, _ in refs})
        with self.store.read() as cur:
            rows = cur.execute(
                f"""SELECT c.cameo_id, c.handle, c.kind, c.owner_id, u.handle, c.permission, c.restrictions,
                           {permission_sql("c", "me.uid")}
                    FROM cameos c JOIN users u ON u.user_id = c.owner_id, (SELECT ?::VARCHAR AS uid) me
                    WHERE c.deleted_at IS NULL AND (c.handle IN (SELECT unnest(?)) OR c.cameo_id IN
                          (SELECT unnest(?)))""",
                [actor_id, keys, keys],
            ).fetchall()
        by_key = {}
        for r in rows:
            cam = _Cameo(r[0], r[1], r[2], r[3], r[4], r[5], list(r[6] or []), bool(r[7]))
            by_key[cam.handle] = cam
            by_key[cam.cameo_id] = cam
        used: dict[str, _Cameo] = {}
        for ref, span in refs:
            cam = by_key.get(ref)
            if cam is None:
                reasons.append(
                    _reason(
                        "cameo_unknown",
                        f"@{ref} is not a cameo in this lab",
                        span,
                        prompt,
                        "check the handle (sora-lab cameo list), or write a description instead of an @mention",
                    )
                )
                continue
            if not cam.permitted and cam.cameo_id not in used:
                reasons.append(
                    _reason(
                        "cameo_not_permitted",
                        f"@{cam.handle}'s owner (@{cam.owner_handle}) has not allowed you to use this cameo "
                        f"(permission: {cam.permission})",
                        span,
                        prompt,
                        f"ask @{cam.owner_handle} to approve you, or leave @{cam.handle} out",
                        cameo=cam.handle,
                    )
                )
            used[cam.cameo_id] = cam
        return list(used.values())

    def _figure_links(self) -> dict[str, str]:
        with self.store.read() as cur:
            return dict(cur.execute("SELECT figure, cameo_id FROM public_figure_cameos").fetchall())

    def _restriction_hit(
        self, rule: Restriction, prompt: str, tokens: list[Token], vector
    ) -> tuple[tuple[int, int] | None, str] | None:
        """Where (and how) a prompt breaks a negative rule, or None."""
        if rule.kind == "forbid_words":
            index = PhraseIndex()
            for w in rule.words:
                for form in (w, w + "s", w + "es"):  # plain plurals: "bananas"
                    index.add(form, w)
            hits = index.find(tokens)
            if hits:
                return (hits[0].start, hits[0].end), f"the word \u201c{hits[0].payload}\u201d"
            return None
        for stem in rule.words:
            parts = stem.split()
            for i in range(len(tokens) - len(parts) + 1):
                window = tokens[i : i + len(parts)]
                if all(_keyword_hit(t.text, p) for t, p in zip(window, parts, strict=True)):
                    start, end = window[0].start, window[-1].end
                    return (start, end), f"keyword \u201c{prompt[start:end]}\u201d"
        similarity = float(vector() @ self._embed(rule.topic))
        if similarity >= TOPIC_SIMILARITY:
            return (None, f"semantic similarity {similarity:.2f} to \u201c{rule.topic}\u201d")
        return None

    def _description_hits(self, matcher: _Matcher, prompt: str, names: list[_Match], vector) -> list[dict]:
        """Registered IP described but not named ('a yellow electric mouse with red cheeks')."""
        out = []
        named = {m.entry.name for m in names}
        prompt_stems = {_stem5(t.text) for t in tokenize(prompt) if len(t.text) >= 4}
        for entry in matcher.described:
            if entry.status != "block" or entry.name in named:
                continue
            # Cheap gate before a MiniLM forward: the prompt must share 2+ content words with the description.
            if len(prompt_stems & matcher.description_stems[entry.name]) < 2:
                continue
            similarity = float(vector() @ self._embed(entry.description))
            if similarity >= DESCRIPTION_SIMILARITY:
                out.append(
                    _reason(
                        "rights_blocked",
                        f"the prompt describes {entry.name} (similarity {similarity:.2f} to its registered "
                        f"description), registered by {entry.holder} with the policy 'block'",
                        None,
                        prompt,
                        "describe something clearly original instead",
                        entity=entry.name,
                        holder=entry.holder,
                    )
                )
        return out

    # --- plumbing ----------------------------------------------------------------------
    def _current_matcher(self) -> _Matcher:
        sig = (registry_signature(self.home), rights_version(self.store))
        with self._lock:
            if self._matcher is None or sig != self._matcher_sig:
                entries = load_registry(self.home) + self.rights.registered_entries()
                self._matcher = _Matcher(entries)
                self._matcher_sig = sig
            return self._matcher

    def _embed(self, text: str) -> np.ndarray:
        """MiniLM vector of `text`, cached (rules and descriptions repeat across prompts)."""
        with self._lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
        vec = _embed_one(text)
        with self._lock:
            self._vectors[text] = vec
            while len(self._vectors) > 512:
                self._vectors.popitem(last=False)
        return vec

    def _audit(self, actor_id: str, used: list[_Cameo], allowed: bool, reasons: list[dict]) -> None:
        """Every decision that touches a cameo goes to its owner's audit trail."""
        if not used:
            return
        now = utcnow()
        with self.store.write() as cur:
            for cam in used:
                props = {"stage": "policy_check", "allowed": allowed, "codes": sorted({r["code"] for r in reasons})}
                kind = "cameo_use" if allowed else "cameo_refused"
                append_event(cur, now, actor_id, kind, target_id=cam.cameo_id, props=props)


_threads_lock = threading.Lock()
_EMBEDDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-embed")


def _embed_one(text: str) -> np.ndarray:
    """One short text through MiniLM on one thread.

    For a single sentence, thread hand-offs cost more than they save, and on a busy
    2-core machine a 2-thread forward measured ~200 ms at the median against ~30 ms
    on one thread. The thread count is restored afterwards.
    """
    import torch

    from sora_lab.core.embeddings import embed

    with _threads_lock:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return embed([text])[0]
        finally:
            torch.set_num_threads(before)


def _validate(prompt, cameos) -> tuple[str, list[str]]:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("prompt is required: describe the clip, e.g. 'a red fox running through snow'")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(f"prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}")
    if cameos is None:
        cameos = []
    if not isinstance(cameos, list) or not all(isinstance(c, str) and c.strip() for c in cameos):
        raise InputError("cameos must be a list of cameo handles, e.g. ['@maya']")
    if len(cameos) > MAX_CAMEOS:
        raise InputError(f"cameos: at most {MAX_CAMEOS} per prompt")
    return prompt, [c.strip().lstrip("@").lower() for c in cameos]


def _keyword_hit(word: str, stem: str) -> bool:
    """Prefix match for stems of 5+ letters ('politi' -> 'politics'); short ones need the
    word itself or a plain inflection ('gun' -> 'guns', not 'gunther'; 'meth' not 'method')."""
    if len(stem) >= 5:
        return word.startswith(stem)
    return word == stem or (word.startswith(stem) and word[len(stem) :] in ("s", "es", "ing", "ed", "er", "ers"))


def _without_mentions(prompt: str) -> str:
    """The prompt with @handles removed: a handle says who, not what the clip is about."""
    text = prompt
    for _, start, end in sorted(handle_mentions(prompt), key=lambda m: -m[1]):
        text = text[:start] + "someone" + text[end:]
    return text


def _content_reasons(found: dict[str, list[tuple[int, int]]], prompt: str, real_person: bool) -> list[dict]:
    reasons = []
    minors = list(found.get("minor", []))
    for m in _AGE_RE.finditer(prompt.casefold()):
        if int(m.group(1)) < 18:
            minors.append((m.start(), m.end()))
    sexual = found.get("sexual_explicit", []) + found.get("sexual_suggestive", [])
    if minors and (sexual or found.get("graphic_violence") or found.get("violence")):
        reasons.append(
            _reason(
                "minors",
                "the prompt combines a minor with sexual or violent content, which the lab never generates",
                minors[0],
                prompt,
                "remove the sexual or violent part; ordinary scenes with children are fine",
            )
        )
    if found.get("sexual_explicit"):
        reasons.append(
            _reason(
                "sexual_content",
                "explicit sexual content is not generated in this lab",
                found["sexual_explicit"][0],
                prompt,
                "remove the sexual content",
            )
        )
    elif found.get("sexual_suggestive") and real_person:
        reasons.append(
            _reason(
                "sexual_likeness",
                "sexualised content with a real person's likeness (a cameo or a public figure) is refused",
                found["sexual_suggestive"][0],
                prompt,
                "remove the sexualised part, or use no real person's likeness",
            )
        )
    if found.get("graphic_violence"):
        reasons.append(
            _reason(
                "graphic_violence",
                "graphic violence (gore, torture, mutilation, self-harm) is not generated in this lab",
                found["graphic_violence"][0],
                prompt,
                "describe the scene without the graphic violence",
            )
        )
    elif found.get("violence") and real_person:
        reasons.append(
            _reason(
                "violence_likeness",
                "violence against or by a real person's likeness (a cameo or a public figure) is refused",
                found["violence"][0],
                prompt,
                "remove the violent action, or use no real person's likeness",
            )
        )
    return reasons
