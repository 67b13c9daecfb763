"""SQL literal lists for primary-key lookups.

DuckDB answers `WHERE pk IN ('a', 'b')` on a single-column primary key through its
index; a parameter list (`IN (SELECT unnest(?))`), a composite key or an extra
predicate in the same WHERE makes it scan the table instead. Ids are checked
against a strict pattern before they are written into SQL.
"""

from __future__ import annotations

import re

from sora_lab.core.errors import InputError, NotFound

_SAFE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def id_list(ids: list[str]) -> str:
    """SQL literal list of video ids, e.g. `'a', 'b'`; an id of the wrong shape cannot exist (NotFound)."""
    bad = [i for i in ids if not isinstance(i, str) or not _SAFE.match(i)]
    if bad:
        raise NotFound(f"video_id {bad[0]!r} does not exist (ids are letters, digits, '_', '-', '.', ':')")
    return ", ".join(f"'{i}'" for i in ids)


def like_key_list(user_id: str, video_ids: list[str]) -> str:
    """SQL literal list of the viewer's feed_like_keys keys (`user_id:video_id`)."""
    keys = [f"{user_id}:{v}" for v in video_ids]
    bad = [k for k in keys if not _SAFE.match(k)]
    if bad:
        raise InputError(f"video_id {bad[0].split(':', 1)[1]!r} has characters ids never have")
    return ", ".join(f"'{k}'" for k in keys)


