"""Who may use a cameo, as SQL evaluated at read time, and what its owner's rules mean.

Permission levels, from narrowest:
  only_me  — the owner only;
  approved — the owner and people the owner approved;
  mutuals  — also anyone who follows the owner and whom the owner follows back;
  everyone — anyone with access.
A revoked person (cameo_blocks) is refused at every level. The same SQL drives
the consent check at generation time and the feed's visibility predicate, so a
revocation hides videos on the very next read.

Restrictions are free text. Negative ones ("no political content", "never say
the word X") are enforced on prompts; positive ones ("always wearing a hat")
become generation instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PERMISSIONS = ("only_me", "approved", "mutuals", "everyone")
_ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def permission_sql(cameo: str, user: str) -> str:
    """Boolean SQL: may `user` (a SQL expression for a user id) use the cameo row aliased `cameo`?"""
    return f"""(
        {cameo}.deleted_at IS NULL AND (
            {user} = {cameo}.owner_id OR (
                NOT EXISTS (SELECT 1 FROM cameo_blocks _cb
                            WHERE _cb.cameo_id = {cameo}.cameo_id AND _cb.user_id = {user})
                AND (
                    {cameo}.permission = 'everyone'
                    OR ({cameo}.permission IN ('approved', 'mutuals')
                        AND EXISTS (SELECT 1 FROM cameo_grants _cg
                                    WHERE _cg.cameo_id = {cameo}.cameo_id AND _cg.grantee_id = {user}))
                    OR ({cameo}.permission = 'mutuals'
                        AND EXISTS (SELECT 1 FROM follows _f1
                                    WHERE _f1.follower_id = {user} AND _f1.followee_id = {cameo}.owner_id)
                        AND EXISTS (SELECT 1 FROM follows _f2
                                    WHERE _f2.follower_id = {cameo}.owner_id AND _f2.followee_id = {user}))
                )
            )
        )
    )"""


def cameo_visibility_sql(video_alias: str = "v") -> str:
    """Boolean SQL: true iff every cameo in the video may still appear in it.

    For each video_cameos link of `<video_alias>.video_id`: the cameo exists and is
    not deleted, its owner has not removed this use, and the video's author is
    permitted to use it right now (grants, blocks and follows read live).
    """
    if not _ALIAS_RE.match(video_alias):
        raise ValueError(f"video_alias {video_alias!r} must be a plain SQL identifier such as 'v'")
    v = video_alias
    return f"""NOT EXISTS (
        SELECT 1 FROM video_cameos _vc LEFT JOIN cameos _cm ON _cm.cameo_id = _vc.cameo_id
        WHERE _vc.video_id = {v}.video_id AND (
            _cm.cameo_id IS NULL
            OR EXISTS (SELECT 1 FROM cameo_removed_uses _ru
                       WHERE _ru.cameo_id = _vc.cameo_id AND _ru.video_id = _vc.video_id)
            OR NOT {permission_sql("_cm", f"{v}.author_id")}
        )
    )"""


@dataclass(frozen=True)
class Restriction:
    """One owner rule, parsed: what to refuse, or what to add to generation."""

    text: str  # as the owner wrote it
    kind: str  # 'forbid_words' | 'forbid_topic' | 'instruction'
    words: tuple[str, ...] = ()  # forbid_words: the words; forbid_topic: keyword stems
    topic: str = ""  # forbid_topic: the topic phrase embedded for semantic matching


_SAY_RE = re.compile(
    r"^(?:never|don'?t|do not|no|not|must not|mustn'?t|should not|shouldn'?t|can'?t|cannot|may not)\s+"
    r"(?:ever\s+)?(?:say|says|said|saying|use|using|mention|mentioning|utter|speak|speaking|write|writing)s?\s+"
    r"(?:the\s+|any\s+)?(?:words?|phrases?|names?)\s+(?P<rest>.+)$"
)
_NEG_RE = re.compile(
    r"^(?:no|never|not|nothing|don'?t|do not|avoid|without|must not|mustn'?t|should not|shouldn'?t|"
    r"can'?t|cannot|may not)\b\s*(?P<rest>.*)$"
)
_LEADING_FILLER = re.compile(
    r"^(?:(?:ever|be|being|show|shown|showing|put|putting|in|into|with|involving|include|including|use|used|"
    r"using|any|anything|about|related to|depict|depicting|appear|appearing|me|my cameo|used for|used in|"
    r"make|making|do|doing|have|having|a|an|the)\s+)+"
)
_POSITIVE_PREFIX = re.compile(r"^(?:always|must|should|only|please|make sure|ensure)\s+(?:be\s+)?")
# Words that say "kind of thing" rather than what the thing is.
_TOPIC_STOPWORDS = frozenset(
    "content contents stuff things thing videos video clips clip scenes scene themes theme topics topic material "
    "related anything any of the a an and or with in on at to for my me situations situation".split()
)


# Topic words people write in rules -> words that signal that topic in a prompt.
# MiniLM similarity alone scores "a speech at an election rally" only ~0.36 against
# "political content", so common topics get a keyword list as well.
TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "politi": ("politic", "election", "campaign", "ballot", "voting", "voter", "president", "senator", "senate",
               "congress", "parliament", "government", "governor", "democrat", "republican", "protest", "rally",
               "activis", "propaganda", "lobby"),
    "alcoh": ("alcohol", "beer", "wine", "vodka", "whisk", "cocktail", "drunk", "booze", "liquor", "champagne",
              "tequila", "shots of", "hangover"),
    "drink": ("beer", "wine", "vodka", "whisk", "cocktail", "drunk", "booze", "liquor", "champagne", "tequila"),
    "weapo": ("gun", "rifle", "pistol", "firearm", "knife", "sword", "weapon", "bomb", "grenade", "shotgun"),
    "gun": ("gun", "rifle", "pistol", "firearm", "shotgun", "revolver"),
    "viole": ("fight", "punch", "kick", "brawl", "attack", "blood", "violen", "stab", "shoot"),
    "fight": ("fight", "punch", "kick", "brawl", "boxing", "wrestl"),
    "relig": ("church", "mosque", "temple", "synagogue", "pray", "religio", "bible", "quran", "torah", "priest"),
    "drug": ("drug", "cocaine", "weed", "marijuana", "cannabis", "heroin", "pills", "meth"),
    "smok": ("cigarette", "cigar", "vape", "vaping", "smoking", "smoke"),
    "roman": ("kiss", "romance", "romantic", "dating", "boyfriend", "girlfriend", "wedding"),
    "kiss": ("kiss", "making out"),
    "gambl": ("casino", "poker", "betting", "gamble", "gambling", "slot machine"),
    "swear": ("fuck", "shit", "damn", "bitch", "curse", "swear"),
    "profa": ("fuck", "shit", "damn", "bitch", "curse", "swear"),
    "adver": ("advert", "commercial", "sponsor", "endorse", "brand deal", "promo"),
    "ads": ("advert", "commercial", "sponsor", "endorse", "brand deal", "promo"),
    "horro": ("horror", "zombie", "monster", "haunted", "demon", "blood", "scary"),
    "scary": ("horror", "zombie", "monster", "haunted", "demon", "scary"),
}


def _stem(word: str) -> str:
    """A crude prefix stem: 'political' -> 'politi', catches politics/politician."""
    return word if len(word) <= 5 else word[: max(5, len(word) - 3)]


def parse_restriction(text: str) -> Restriction:
    """Read a free-text rule; see the module docstring for the three kinds."""
    t = " ".join(text.strip().casefold().replace("’", "'").split()).rstrip(".!")
    m = _SAY_RE.match(t)
    if m:
        rest = m.group("rest")
        parts = re.split(r"\s*(?:,|\bor\b|\band\b|/)\s*", rest)
        words = tuple(p.strip(" \"'“”‘’") for p in parts if p.strip(" \"'“”‘’"))
        return Restriction(text=text, kind="forbid_words", words=words)
    m = _NEG_RE.match(t)
    if m:
        topic = _LEADING_FILLER.sub("", m.group("rest").strip()).strip()
        words = [w for w in re.findall(r"[a-z0-9]+", topic) if w not in _TOPIC_STOPWORDS]
        if words:
            stems = [_stem(w) for w in words]
            for w in words:
                for key, extra in TOPIC_KEYWORDS.items():
                    if w.startswith(key):
                        stems.extend(extra)
            return Restriction(text=text, kind="forbid_topic", words=tuple(dict.fromkeys(stems)), topic=topic)
    instruction = _POSITIVE_PREFIX.sub("", t).strip() or t
    return Restriction(text=text, kind="instruction", topic=instruction)
