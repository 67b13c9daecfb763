"""Text from outside, checked once at the service boundary and stored in one form (NFC).

Every name, prompt, comment and rule a caller sends goes through `clean_text`, embedded or over
HTTP alike. It refuses what hides or reorders what a reader sees — NUL and other C0/C1 control
characters, bidirectional overrides, embeddings and isolates, invisible format characters and
zero-width characters inside words — and values of the wrong type or length, with an error that
names the field and says what to change. What passes is normalised to NFC, so one visible text is
stored one way. The prompt policy reads the raw prompt separately and still sees through the
tricks this refuses (sora_lab.policy.text_match).
"""

from __future__ import annotations

import unicodedata

from sora_lab.core.errors import InputError

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates: they reorder how the rest of a line is shown."""
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")
"""Characters that render as nothing: inside a word they split it for filters but not for readers."""
JOINERS = frozenset("\u200c\u200d")
"""Zero-width (non-)joiners belong inside words of some scripts (Persian, Indic) and in emoji sequences."""
_MARKS = frozenset("\u200e\u200f\u061c")
"""Left-to-right, right-to-left and Arabic letter marks: invisible, but needed to write mixed scripts."""
_JOINER_FREE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "DIGIT")
"""Scripts in which a joiner inside a word is never spelling, only a way to split the word."""


def clean_text(value: object, field: str, *, max_chars: int, multiline: bool = False, required: bool = True) -> str:
    """`value` as NFC text, or InputError naming `field` and the fix.

    multiline: newlines (\\n, \\r\\n) are allowed — prompts and comments; never in names or rules.
    required: refuse an empty or blank value.
    """
    if not isinstance(value, str):
        raise InputError(f"{field} must be text (a JSON string), not {type(value).__name__}")
    if len(value) > 4 * max_chars:  # bound the work before looking at every character
        raise InputError(f"{field} is {len(value)} characters; at most {max_chars}")
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n") if multiline else value)
    for i, ch in enumerate(text):
        problem = _problem(text, i, ch, multiline)
        if problem:
            raise InputError(f"{field} contains {problem} at position {i} (U+{ord(ch):04X}); remove it and send "
                             "plain text")
    if len(text) > max_chars:
        raise InputError(f"{field} is {len(text)} characters; at most {max_chars}")
    if required and not text.strip():
        raise InputError(f"{field} is empty; write some text")
    return text


def _problem(text: str, i: int, ch: str, multiline: bool) -> str | None:
    """What is wrong with the character at `i` (a short description), or None."""
    if ch == "\n":
        return None if multiline else "a line break (this field is one line)"
    category = unicodedata.category(ch)
    if category == "Cc":
        return "a NUL character" if ch == "\x00" else "a control character"
    if ch in BIDI_CONTROLS:
        return "a bidirectional override or isolate"
    if category == "Cs":
        return "a lone surrogate (broken UTF-16)"
    if ch in ZERO_WIDTH:
        inside = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
        if inside and (ch not in JOINERS or _joiner_free(text[i - 1]) or _joiner_free(text[i + 1])):
            return "a zero-width character inside a word"
        return None
    if category == "Cf" and ch not in _MARKS:
        return "an invisible format character"
    return None


def _joiner_free(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(_JOINER_FREE_SCRIPTS)


def handle_key(value: object) -> str:
    """'@Maya ' -> 'maya': how a typed handle (a person's, or a cameo's owner/name) is looked up. No validation
    (a lookup of something that cannot be a handle simply finds nothing); anything not a string is ''."""
    return value.strip().lstrip("@").lower() if isinstance(value, str) else ""
