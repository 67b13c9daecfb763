"""Natural-language steering: "more ocean clips, fewer spinning stars".

The text is split into clauses; each clause gets a direction from its leading
words ("more", "fewer", "no", ...) and the rest is the topic, which is embedded
with the same MiniLM model as the prompts. Ranking then adds the similarity of
each video's prompt to the "more" topics and subtracts it for the "less" ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sora_lab.core.errors import InputError
from sora_lab.core.text import clean_text

MAX_STEER_CHARS = 300
MAX_TOPICS = 6

_MORE = ("more of", "more", "lots of", "show me", "i want", "i like", "extra", "plus", "+")
_LESS = (
    "fewer", "less of", "less", "no more", "no", "not", "without", "stop showing", "stop", "avoid", "hide",
    "don't show", "dont show", "never", "minus", "-",
)
_FILLER = re.compile(r"\b(clips?|videos?|ones?|stuff|content|please|of)\b", re.IGNORECASE)
_SPLIT = re.compile(r"[,;\n]|\band\b|\bbut\b|\.", re.IGNORECASE)


@dataclass(frozen=True)
class SteerTopic:
    text: str  # the topic as embedded, e.g. "ocean"
    sign: int  # +1 more of it, -1 less of it


def parse_steer(text: str | None) -> list[SteerTopic]:
    """Clauses to signed topics. A clause without a direction word means 'more'."""
    if text is None:
        return []
    if not isinstance(text, str):
        raise InputError("steer must be text such as 'more ocean clips, fewer spinning stars'")
    text = clean_text(text, "steer", max_chars=MAX_STEER_CHARS, required=False)  # stored with the session
    topics: list[SteerTopic] = []
    for clause in _SPLIT.split(text):
        words = clause.strip().lower()
        if not words:
            continue
        sign, rest = _direction(words)
        topic = " ".join(_FILLER.sub(" ", rest).split())
        if topic:
            topics.append(SteerTopic(topic, sign))
    if len(topics) > MAX_TOPICS:
        raise InputError(f"steer has {len(topics)} topics; use at most {MAX_TOPICS} comma-separated clauses")
    return topics


def _direction(clause: str) -> tuple[int, str]:
    """(+1 or -1, the clause without its direction word); longest direction word wins."""
    for word in _BY_LENGTH:
        if clause == word or clause.startswith(word + " ") or (word in "+-" and clause.startswith(word)):
            return (-1 if word in _LESS else 1), clause[len(word):].strip()
    return 1, clause


_BY_LENGTH = sorted(_LESS + _MORE, key=len, reverse=True)
