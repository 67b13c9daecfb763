"""Obfuscation-tolerant text matching for the prompt policy.

People dodge name filters with case, spacing ("t a y l o r"), punctuation inside
names ("T.a.y-lor"), leetspeak digits ("3lon"), Unicode look-alikes (Cyrillic
"а"), zero-width characters and light misspellings. We fold all of those into a
*skeleton* on both sides — the prompt and the registry names — and then look up
token n-grams, with a small deletion index for edit distance 1-2 on long names.

Every token keeps the character span it came from in the original prompt, so a
refusal can point at the exact words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Characters that render as nothing: zero-width space/joiners, word joiner, BOM, soft hyphen.
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2061", "\u2062", "\u2063"}

# Look-alike letters from other scripts, after NFKC and casefold.
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ӏ": "l", "ɡ": "g", "ո": "n", "ս": "u",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ς": "s", "σ": "o", "μ": "u",
    # Latin variants not folded by NFKC
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe",
}

# Leetspeak symbols read as letters when they sit inside a word.
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
         "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e"}

# Punctuation that may be typed *inside* a word to break a filter: "t.a.y-l_o*r".
_JOINERS = set(".-_*'’`~^·•")


def fold_char(ch: str) -> str:
    """One character -> lowercase Latin letters/digits (possibly empty or several)."""
    if ch in _INVISIBLE:
        return ""
    out = []
    for c in unicodedata.normalize("NFKC", ch).casefold():
        c = _CONFUSABLES.get(c, c)
        for d in unicodedata.normalize("NFKD", c):
            if unicodedata.category(d) == "Mn":  # accents: é -> e
                continue
            if unicodedata.category(d) == "Cf":  # other format characters
                continue
            out.append(d)
    return "".join(out)


def skeleton(word: str) -> str:
    """Fold a word so spelling tricks meet: l/1/i alike, repeated letters collapsed."""
    s = word.replace("l", "i").replace("1", "i").replace("|", "i")
    s = s.replace("ph", "f").replace("ck", "k").replace("y", "i")
    out = []
    for c in s:
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class Token:
    """A word of the prompt: its folded text, its skeleton, and where it sits in the original."""

    text: str  # folded (lowercase Latin), leet decoded
    skel: str
    start: int  # span in the original prompt, [start, end)
    end: int
    hard_break_before: bool  # a comma/full stop/newline separates it from the previous token


def _decode_leet(word: str) -> str:
    """Digits and symbols inside a word that has letters become letters ("3l0n" -> "elon")."""
    if not any(c.isalpha() for c in word):
        return word
    return "".join(_LEET.get(c, c) for c in word)


def tokenize(prompt: str) -> list[Token]:
    """Split into word tokens with spans, undoing in-word punctuation and spaced-out letters."""
    chars, where = fold_text(prompt)
    folded = list(zip(chars, where, strict=True))  # (folded char, original index)
    words: list[tuple[str, int, int, bool]] = []
    cur: list[str] = []
    cur_start = cur_end = 0
    pending_hard = False

    def flush():
        nonlocal cur, pending_hard
        if cur:
            words.append(("".join(cur), cur_start, cur_end, pending_hard))
            pending_hard = False
        cur = []

    n = len(folded)
    seg_len = 0  # letters since the word start or the last in-word punctuation

    def next_segment(k: int) -> int:
        j = k + 1
        while j < n:
            ch = folded[j][0]
            if not (ch.isalnum() or (ch in _LEET and j + 1 < n and folded[j + 1][0].isalnum())):
                break
            j += 1
        return j - k - 1

    for k, (c, idx) in enumerate(folded):
        nxt = folded[k + 1][0] if k + 1 < n else " "
        # a leet symbol ("$", "@", "!") is a letter only when a letter or digit follows it
        wordish = c.isalnum() or (c in _LEET and nxt.isalnum())
        if wordish:
            if not cur:
                cur_start = idx
            cur.append(c)
            cur_end = idx + 1
            seg_len += 1
            continue
        if c in _JOINERS and cur and (nxt.isalnum() or nxt in _LEET):
            if seg_len == 1 or next_segment(k) == 1:
                seg_len = 0
                continue  # "t.a.y", "b-a-n-a-n-a", "jay-z": punctuation inside a word is dropped
            flush()  # "mickey-mouse-shaped": separate words, and name windows still join them
            seg_len = 0
            continue
        abbreviation = c == "." and 0 < len(cur) <= 3  # "Mr. Beast", "J.D. Vance": not a sentence end
        flush()
        seg_len = 0
        if c in ",;:!?()[]{}\n\"/" or (c == "." and not nxt.isalnum() and not abbreviation):
            pending_hard = True
    flush()
    words = _merge_spaced_letters(words)
    tokens = []
    for raw, start, end, brk in words:
        text = _decode_leet(raw)
        tokens.append(Token(text=text, skel=skeleton(text), start=start, end=end, hard_break_before=brk))
    return tokens


def _merge_spaced_letters(words):
    """'t a y l o r' -> 'taylor': runs of 3+ single-character tokens become one word."""
    merged = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and len(words[j][0]) == 1 and (j == i or not words[j][3]):
            j += 1
        if j - i >= 3:
            text = "".join(w[0] for w in words[i:j])
            merged.append((text, words[i][1], words[j - 1][2], words[i][3]))
            i = j
        else:
            merged.append(words[i])
            i += 1
    return merged


def phrase_skeleton(phrase: str) -> tuple[str, int]:
    """A registry name -> (compact skeleton with no spaces, number of words)."""
    toks = tokenize(phrase)
    return "".join(t.skel for t in toks), len(toks)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap counts 1), stopping early past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(s: str, depth: int) -> set[str]:
    out = {s}
    frontier = {s}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def allowed_typos(compact_len: int, words: int) -> int:
    """How many edits a phrase tolerates. One-word names need 8+ letters ('thanos' must not
    match 'thanks'); names of several words are distinctive sooner."""
    if words <= 1:
        return 0 if compact_len < 8 else 1 if compact_len < 12 else 2
    return 0 if compact_len < 7 else 1 if compact_len < 13 else 2


@dataclass
class Hit:
    """A registry key found in the prompt."""

    key: str  # the compact skeleton matched
    payload: object
    start: int
    end: int
    token_start: int
    token_end: int  # exclusive
    distance: int


class PhraseIndex:
    """Compact-skeleton phrases with exact and fuzzy (deletion-neighbourhood) lookup.

    Each phrase is added with a payload; `find(tokens)` returns hits over windows of
    up to `max_words + 1` consecutive tokens that do not cross a hard break.
    """

    def __init__(self) -> None:
        self.exact: dict[str, list[object]] = {}
        self.fuzzy: dict[str, set[str]] = {}  # deletion variant -> keys
        self.key_typos: dict[str, int] = {}
        self.max_words = 1
        self.max_len = 0

    def add(self, phrase: str, payload: object, *, fuzzy: bool = True) -> None:
        key, words = phrase_skeleton(phrase)
        if not key:
            return
        self.max_words = max(self.max_words, words)
        self.max_len = max(self.max_len, len(key))
        self.exact.setdefault(key, []).append(payload)
        depth = allowed_typos(len(key), words) if fuzzy else 0
        self.key_typos[key] = max(self.key_typos.get(key, 0), depth)
        if depth:
            for variant in _deletes(key, depth):
                self.fuzzy.setdefault(variant, set()).add(key)

    def find(self, tokens: list[Token]) -> list[Hit]:
        hits: list[Hit] = []
        span = self.max_words + 1  # one extra: a name split in two by a space ("tay lor swift")
        for i in range(len(tokens)):
            compact = ""
            for j in range(i, min(len(tokens), i + span)):
                if j > i and tokens[j].hard_break_before:
                    break
                compact += tokens[j].skel
                if len(compact) > self.max_len + 2:
                    break
                if j == i and len(tokens[i].text) == 1:
                    continue  # a lone letter is no word: 'a red x' is not 'xxx' (whose skeleton is 'x')
                for payload in self.exact.get(compact, ()):
                    hits.append(Hit(compact, payload, tokens[i].start, tokens[j].end, i, j + 1, 0))
                depth = allowed_typos(len(compact), j - i + 1)
                if depth and compact not in self.exact:
                    for key in self._fuzzy_keys(compact, depth):
                        limit = min(depth, self.key_typos[key])
                        d = edit_distance(compact, key, limit)
                        if d <= limit:
                            for payload in self.exact[key]:
                                hits.append(Hit(key, payload, tokens[i].start, tokens[j].end, i, j + 1, d))
        return _drop_padded(hits)

    def _fuzzy_keys(self, compact: str, depth: int) -> set[str]:
        """Keys whose deletion variants meet the window's. The window side deletes at most one
        letter (keys store up to two): O(len) lookups instead of O(len^2), and it still finds a
        wrong, missing, extra or swapped letter, plus most two-letter slips in long names."""
        keys: set[str] = set()
        for variant in _deletes(compact, min(depth, 1)):
            keys |= self.fuzzy.get(variant, set())
        return keys


def _drop_padded(hits: list[Hit]) -> list[Hit]:
    """Drop a typo hit that only exists because a neighbouring word was swallowed:
    'a gruesome' is 'gruesome' plus one deleted 'a', so keep the tighter hit."""
    keep = []
    for h in hits:
        if h.distance and any(
            o is not h and o.key == h.key and h.token_start <= o.token_start and o.token_end <= h.token_end
            and (o.token_end - o.token_start) < (h.token_end - h.token_start)
            for o in hits
        ):
            continue
        keep.append(h)
    return keep


def fold_text(prompt: str) -> tuple[str, list[int]]:
    """The folded prompt and, per folded character, the index of the original character."""
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(prompt):
        for c in fold_char(ch):
            chars.append(c)
            where.append(i)
    return "".join(chars), where


HANDLE_MENTION_RE = re.compile(r"(?<![a-z0-9_.@])@([a-z0-9][a-z0-9_.]{1,29}(?:/[a-z0-9][a-z0-9_.]{1,29})?)")
"""'@maya', or a character namespaced under its owner: '@theo/toy'."""


def handle_mentions(prompt: str) -> list[tuple[str, int, int]]:
    """`@handle` mentions as (handle, start, end) in the original prompt, look-alikes folded."""
    folded, where = fold_text(prompt)
    out = []
    for m in HANDLE_MENTION_RE.finditer(folded):
        handle = m.group(1).rstrip(".")
        end = m.start(1) + len(handle)
        out.append((handle, where[m.start()], where[end - 1] + 1))
    return out


def without_mentions(prompt: str) -> str:
    """The prompt with each @handle replaced by 'someone': a handle says who, not what the clip is about."""
    text = prompt
    for _, start, end in sorted(handle_mentions(prompt), key=lambda m: -m[1]):
        text = text[:start] + "someone" + text[end:]
    return text
