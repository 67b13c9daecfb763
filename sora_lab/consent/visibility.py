"""The one visibility rule: which videos a viewer may see, written once, in SQL.

A video is visible to a viewer when all of these hold:
  1. it is published — or it is a draft and the viewer is its author (deleted: nobody);
  2. the viewer has not blocked its author;
  3. every cameo in it may still appear in it (`cameo_visibility_sql`: the cameo is live, its owner
     has not removed this use, and the author may use it under the owner's current permissions).

`visible_sql` is that rule as a SQL predicate for queries over many videos (feed ranking, lists);
`visible_ids` answers it for given ids by running the same predicate on their rows, so the Python
check of a record, a media file, an engagement target, a comment thread, a remix parent or a
verify cannot drift from the SQL one. Everything not visible is answered as "not found": nobody
learns that a hidden video exists. A revocation takes effect on the next read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sora_lab.consent.rules import cameo_visibility_sql
from sora_lab.core.errors import NotFound
from sora_lab.core.home import media_dir
from sora_lab.store.db import registered

_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_LITERALS_MAX = 200  # ids listed as SQL literals (DuckDB probes the primary key); more go through a view
_MEDIA_RE = re.compile(r"^(videos|posters|cameos)/([A-Za-z0-9_-]{1,100})\.(mp4|jpg|png)$")
MEDIA_TYPES = {"mp4": "video/mp4", "jpg": "image/jpeg", "png": "image/png"}
MEDIA_CACHE_CONTROL = "private, no-cache"
"""How media may be cached: by the viewer's own browser only, and re-checked on every use (a
revocation must reach a clip already watched), never by a shared cache."""


def visible_sql(video: str = "v", viewer: str = "me.uid") -> str:
    """Boolean SQL: may the viewer (a SQL expression: a user id, or NULL for nobody signed in) see
    the videos row aliased `video`? The module docstring lists the three parts."""
    return f"({_status_and_blocks_sql(video, viewer)} AND {cameo_visibility_sql(video)})"


def _status_and_blocks_sql(video: str, viewer: str) -> str:
    """Parts 1 and 2 of the rule."""
    v = video
    return f"""(
        ({v}.status = 'published' OR ({v}.status = 'draft' AND coalesce({v}.author_id = {viewer}, false)))
        AND NOT EXISTS (SELECT 1 FROM feed_blocks _fb WHERE _fb.user_id = {viewer} AND _fb.blocked_id = {v}.author_id)
    )"""


def visible_ids(cur, viewer_id: str | None, video_ids: Iterable[str], *, published_only: bool = False) -> set[str]:
    """The ids among `video_ids` that `viewer_id` may see: `visible_sql` run on just those rows.

    Part 3 (cameo consent) is true by definition for a video without cameos, so when none of the
    rows has one, parts 1 and 2 alone are run: the costly part stays off the common path.
    published_only: also leave out the viewer's own drafts (feeds and engagement show published clips).
    """
    ids = sorted({v for v in video_ids if isinstance(v, str) and _ID_RE.match(v)})  # others cannot exist
    if not ids:
        return set()
    published = "v.status = 'published' AND " if published_only else ""
    with _as_rows(cur, ids) as rows:
        has_cameos = cur.execute(f"SELECT 1 FROM video_cameos WHERE {rows} LIMIT 1").fetchone() is not None
        rule = visible_sql("v", "$viewer::VARCHAR") if has_cameos else _status_and_blocks_sql("v", "$viewer::VARCHAR")
        return {r[0] for r in cur.execute(
            f"WITH v AS MATERIALIZED (SELECT video_id, status, author_id FROM videos WHERE {rows}) "
            f"SELECT v.video_id FROM v WHERE {published}{rule}", {"viewer": viewer_id}).fetchall()}


@contextmanager
def _as_rows(cur, ids: list[str]) -> Iterator[str]:
    """A WHERE condition selecting these video ids: literals (DuckDB probes the primary key) or, for
    many, a registered Arrow view. The ids were checked against _ID_RE."""
    if len(ids) <= _LITERALS_MAX:
        yield "video_id IN (" + ", ".join(f"'{i}'" for i in ids) + ")"
        return
    import pyarrow as pa  # only for long lists: short ones (a generate, one page) never load pyarrow

    with registered(cur, "visibility_ids", pa.table({"id": pa.array(ids, pa.string())})):
        yield "video_id IN (SELECT id FROM visibility_ids)"


def require_visible(store, viewer_id: str | None, video_id: str) -> None:
    """NotFound unless `viewer_id` may see `video_id` (the same answer as for a video that never existed)."""
    with store.read() as cur:
        seen = visible_ids(cur, viewer_id, [video_id])
    if not seen:
        raise NotFound(f"no video {video_id!r} you can see")


@dataclass(frozen=True)
class MediaFile:
    """A media file a viewer may read now, and how to answer with it."""

    path: Path
    media_type: str
    cache_control: str = MEDIA_CACHE_CONTROL


def media_file(store, home: Path, viewer_id: str | None, relative: str) -> MediaFile:
    """The file behind a media URL path ('videos/<id>.mp4', 'posters/<id>.jpg', 'cameos/<id>.png') if
    `viewer_id` may read it now; NotFound otherwise, the same for a hidden file as for a missing one.

    A clip and its poster follow the visibility rule of their video; a cameo's reference image is
    its owner's alone. What the media route calls on every request (ranges included).
    """
    match = _MEDIA_RE.match(relative) if isinstance(relative, str) else None
    if match is None:
        raise NotFound(f"no media {str(relative)[:120]!r}")
    kind, stem, suffix = match.groups()
    with store.read() as cur:
        if kind == "cameos":
            row = cur.execute(
                "SELECT reference_path FROM cameos WHERE cameo_id = ? AND owner_id = ? AND deleted_at IS NULL",
                [stem, viewer_id],
            ).fetchone()
            stored = {row[0]} if row else set()
        else:
            row = cur.execute("SELECT media_path, poster_path FROM videos WHERE video_id = ?", [stem]).fetchone()
            stored = {p for p in row if p} if row and visible_ids(cur, viewer_id, [stem]) else set()
    stored = {p.removeprefix("media/") for p in stored}
    path = media_dir(home) / relative
    if relative not in stored or not path.is_file():
        raise NotFound(f"no media {relative!r}")
    return MediaFile(path, MEDIA_TYPES[suffix])
