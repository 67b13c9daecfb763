"""The feed: ranked sessions, signed keyset cursors, steering and live hard filters.

A first page (no cursor) ranks candidates once (sora_lab.feed.rank) and stores
the ranked list as a *session* in `feed_session_items`. Later pages read the
next positions of that list — a keyset on position, so a page costs a few
index lookups at any lab size, new videos cannot reorder what the viewer is
scrolling and no video repeats. When the list runs out it is extended by
ranking again with the same snapshot time, excluding everything already in
the session. A new steer text starts a new session that carries the seen
videos over (stored at negative positions) so they do not come back either.
`explain` runs the same ranking for the caller without storing it and returns every score part.

The visibility rule (sora_lab.consent.visibility: removed, blocked author, cameo
no longer permitted) is also checked on every page read, so a revocation takes
effect on the next read.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path

import numpy as np

from sora_lab.consent.visibility import visible_ids
from sora_lab.core.errors import InputError, NotFound
from sora_lab.core.ids import utcnow
from sora_lab.core.text import handle_key
from sora_lab.feed.cursor import Cursor, decode_cursor, encode_cursor, load_or_create_secret
from sora_lab.feed.engagement import liked_by
from sora_lab.feed.index import EmbeddingIndex, VideoSync, ensure_embeddings
from sora_lab.feed.rank import WEIGHTS, RankWeights, Viewer, lab_priors, rank_candidates, taste_unit
from sora_lab.feed.sql import id_list
from sora_lab.feed.stats import fold_pending, pending_counts
from sora_lab.feed.steer import parse_steer
from sora_lab.store.db import Store

MAX_LIMIT = 50
MAX_EXPLAIN = 200  # explain lists a whole workshop room's clips at once; a page stays small
CHUNK = 500  # videos ranked per session extension (50 pages of 10 before the next ranking)


class FeedService:
    def __init__(self, store: Store, home: Path, *, weights: RankWeights = WEIGHTS):
        self.store = store
        self.home = Path(home)
        self.weights = weights
        self.videos = VideoSync(store)
        self.index = EmbeddingIndex(store)
        self._secret: bytes | None = None
        self._steer_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_or_create_secret(self.home)
        return self._secret

    # --- operations (see sora_lab.api.access.ACCESS) -------------------------------------
    def page(self, *, actor_id: str, cursor: str | None = None, limit: int = 10, steer: str | None = None,
             seen_through: int | None = None) -> dict:
        """One page of the viewer's feed and the cursor for the next (None at the end).

        A changed `steer` with a cursor re-ranks what comes next in a new session that skips what
        the old one delivered; `seen_through` (a `pos` of the cursor's session, at most the
        cursor's) narrows that to what was actually watched, so clips delivered ahead but never
        on screen can still come, re-ranked. -1 means nothing of the cursor's session was watched.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise InputError(f"limit must be an integer 1..{MAX_LIMIT}, got {limit!r}")
        steer = steer.strip() if isinstance(steer, str) else steer
        topics = parse_steer(steer or None)
        if cursor:
            position = decode_cursor(self.secret, cursor, user_id=actor_id)
            session = self._session(position.session_no)
            if (steer or None) != session["steer"] and steer is not None:
                if seen_through is not None:
                    if not isinstance(seen_through, int) or isinstance(seen_through, bool) or not (
                            -1 <= seen_through <= position.pos):
                        raise InputError(f"seen_through must be an item pos from -1 to {position.pos} (the "
                                         f"cursor's last), got {seen_through!r}")
                    position = Cursor(position.session_no, seen_through, position.user_id)
                session = self._new_session(actor_id, steer or None, topics, carry=position)
                pos = -1
            else:
                pos = position.pos
        else:
            session = self._new_session(actor_id, steer or None, topics, carry=None)
            pos = -1
        items, last_pos, session = self._read(session, actor_id, pos, limit, topics)
        more = not (session["exhausted"] and last_pos >= session["ranked"] - 1)
        next_cursor = encode_cursor(self.secret, Cursor(session["session_no"], last_pos, actor_id)) if more else None
        return {"items": items, "next_cursor": next_cursor, "session": session["session_no"], "steer": session["steer"]}

    def explain(self, *, actor_id: str, steer: str | None = None, limit: int = 20) -> dict:
        """The caller's own ranking right now, with every part of each clip's score and its reasons.

        The same ranking a first page stores (candidates, the visibility rule, diversity), read
        without starting a session, so a lesson can chart why each clip sits where it does. It
        ranks for the caller alone: no argument names another viewer. `priors` are the lab-wide
        rates per view that the engagement part compares against; `weights` the score's weights.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_EXPLAIN:
            raise InputError(f"limit must be an integer 1..{MAX_EXPLAIN}, got {limit!r}")
        steer = (steer.strip() or None) if isinstance(steer, str) else steer
        topics = parse_steer(steer)
        self.sync()  # rank on every clip and signal received so far, as a new session does
        viewer = self._viewer(actor_id, topics)
        self.index.refresh()
        now = utcnow()
        with self.store.read() as cur:
            priors = lab_priors(cur)
            rows = rank_candidates(cur, self.index, viewer, session_no=-1, snapshot_at=now, weights=self.weights,
                                   limit=limit)
        items = [
            {
                "rank": n,
                "video_id": r["video_id"],
                "author_id": r["author_id"],
                "author": r["handle"],
                "prompt": r["prompt"],
                "published_at": r["published_at"].isoformat(),
                "duration_ms": r["duration_ms"],
                "score": round(r["score"], 4),
                "parts": r["parts"],
                "reasons": r["reasons"],
                "views": r["views"],
                "watch_throughs": r["watch_throughs"],
                "likes": r["likes"],
                "shares": r["shares"],
                "remixes": r["remixes"],
            }
            for n, r in enumerate(rows, 1)
        ]
        return {
            "items": items,
            "steer": steer,
            "topics": [{"text": t.text, "direction": "more" if t.sign > 0 else "fewer"} for t in topics],
            "ranked_at": now.isoformat(),
            "priors": asdict(priors),
            "weights": asdict(self.weights),
        }

    def block(self, *, actor_id: str, user_id: str | None = None, handle: str | None = None) -> dict:
        """Never show this author's videos to the viewer again (takes effect on the next page)."""
        with self.store.write() as cur:
            user_id = _resolve_user(cur, user_id, handle)
            if user_id == actor_id:
                raise InputError("user_id: you cannot block yourself")
            cur.execute("INSERT OR IGNORE INTO feed_blocks VALUES (?, ?, ?)", [actor_id, user_id, utcnow()])
        return {"blocked": user_id}

    def unblock(self, *, actor_id: str, user_id: str | None = None, handle: str | None = None) -> dict:
        with self.store.write() as cur:
            user_id = _resolve_user(cur, user_id, handle)
            cur.execute("DELETE FROM feed_blocks WHERE user_id = ? AND blocked_id = ?", [actor_id, user_id])
        return {"unblocked": user_id}

    def sync(self) -> dict:
        """Mirror new videos, embed their prompts and fold waiting signals (each first page does this too)."""
        added = self.videos.sync()
        embedded = ensure_embeddings(self.store, added)
        with self.store.write() as cur:
            folded = fold_pending(cur)
        return {"videos_added": len(added), "prompts_embedded": embedded, "signals_folded": folded}

    def rebuild(self) -> dict:
        """Recompute every aggregate and taste vector from the live event log (after imports or repair)."""
        from sora_lab.feed.rebuild import rebuild_feed_tables

        self.videos.sync()
        ensure_embeddings(self.store, None)
        return rebuild_feed_tables(self.store)

    # --- sessions ------------------------------------------------------------------------
    def _session(self, session_no: int) -> dict:
        with self.store.read() as cur:
            row = cur.execute(
                "SELECT session_no, user_id, snapshot_at, steer, ranked, exhausted FROM feed_sessions "
                "WHERE session_no = ?",
                [session_no],
            ).fetchone()
        if row is None:
            raise InputError("cursor points to a feed session that has expired; start again without a cursor")
        keys = ("session_no", "user_id", "snapshot_at", "steer", "ranked", "exhausted")
        return dict(zip(keys, row, strict=True))

    def _new_session(self, actor_id: str, steer: str | None, topics, carry: Cursor | None) -> dict:
        added = self.videos.sync()
        if added:
            ensure_embeddings(self.store, added)
        now = utcnow()
        with self.store.write() as cur:
            fold_pending(cur)  # rank on every signal received so far
            session_no = cur.execute("SELECT nextval('feed_session_seq')").fetchone()[0]
            cur.execute(
                "INSERT INTO feed_sessions VALUES (?, ?, ?, ?, ?, 0, false)", [session_no, actor_id, now, now, steer]
            )
            if carry is not None:
                # Seen videos of the old session stay excluded, at negative positions.
                cur.execute(
                    "INSERT INTO feed_session_items (session_no, pos, video_id, score, reasons) "
                    "SELECT ?, -row_number() OVER (ORDER BY session_no, pos), video_id, score, reasons "
                    "FROM feed_session_items WHERE session_no = ? AND pos <= ?",
                    [session_no, carry.session_no, carry.pos],
                )
            if session_no % 500 == 0:
                self._prune(cur, now)
        session = {"session_no": session_no, "user_id": actor_id, "snapshot_at": now, "steer": steer,
                   "ranked": 0, "exhausted": False}
        self._extend(session, topics)
        return self._session(session_no)

    @staticmethod
    def _prune(cur, now) -> None:
        """Forget sessions idle for two days: their cursors then ask the viewer to start again."""
        cur.execute(
            "DELETE FROM feed_session_items WHERE session_no IN "
            "(SELECT session_no FROM feed_sessions WHERE created_at < ? - INTERVAL 2 DAY)",
            [now],
        )
        cur.execute("DELETE FROM feed_sessions WHERE created_at < ? - INTERVAL 2 DAY", [now])

    def _extend(self, session: dict, topics) -> int:
        """Rank the next chunk of this session (same snapshot, excluding what it already holds)."""
        viewer = self._viewer(session["user_id"], topics)
        self.index.refresh()
        with self.store.read() as cur:
            ranked = rank_candidates(
                cur,
                self.index,
                viewer,
                session_no=session["session_no"],
                snapshot_at=session["snapshot_at"],
                weights=self.weights,
                limit=CHUNK,
            )
        with self.store.write() as cur:
            start = cur.execute(
                "SELECT ranked FROM feed_sessions WHERE session_no = ?", [session["session_no"]]
            ).fetchone()[0]
            held = {
                r[0]
                for r in cur.execute(
                    "SELECT video_id FROM feed_session_items WHERE session_no = ? AND video_id IN (SELECT unnest(?))",
                    [session["session_no"], [r["video_id"] for r in ranked]],
                ).fetchall()
            }
            ranked = [r for r in ranked if r["video_id"] not in held]  # a concurrent extend got there first
            if ranked:
                cameos = _cameo_handles(cur, [r["video_id"] for r in ranked])
                cur.execute(
                    "INSERT INTO feed_session_items SELECT ?, unnest(?), unnest(?), unnest(?), unnest(?), unnest(?)",
                    [
                        session["session_no"],
                        list(range(start, start + len(ranked))),
                        [r["video_id"] for r in ranked],
                        [r["score"] for r in ranked],
                        [r["reasons"] for r in ranked],
                        [json.dumps(_card(r, cameos.get(r["video_id"], []))) for r in ranked],
                    ],
                )
            cur.execute(
                "UPDATE feed_sessions SET ranked = ?, exhausted = ? WHERE session_no = ?",
                [start + len(ranked), len(ranked) == 0, session["session_no"]],
            )
        return len(ranked)

    def _viewer(self, user_id: str, topics) -> Viewer:
        """What ranking knows of one person: their taste vector and the embedded steering topics
        (`parse_steer` output)."""
        with self.store.read() as cur:
            row = cur.execute("SELECT weight, vec FROM feed_user_taste WHERE user_id = ?", [user_id]).fetchone()
        taste = taste_unit(row[0], row[1]) if row else None
        return Viewer(user_id, taste, [(t, self._topic_vector(t.text)) for t in topics])

    def _topic_vector(self, text: str) -> np.ndarray:
        with self._lock:
            vec = self._steer_cache.get(text)
        if vec is None:
            from sora_lab.core.embeddings import embed

            vec = embed([text])[0]
            with self._lock:
                if len(self._steer_cache) > 2000:
                    self._steer_cache.clear()
                self._steer_cache[text] = vec
        return vec

    # --- reading pages -------------------------------------------------------------------
    def _read(self, session: dict, actor_id: str, pos: int, limit: int, topics) -> tuple[list[dict], int, dict]:
        """Next `limit` visible items after `pos`, extending the session when its list runs out."""
        items: list[dict] = []
        last = pos
        while len(items) < limit:
            with self.store.read() as cur:
                # A bounded range, not ORDER BY ... LIMIT: DuckDB then prunes by zone maps alone.
                rows = sorted(cur.execute(
                    "SELECT pos, video_id, score, reasons, card FROM feed_session_items "
                    "WHERE session_no = ? AND pos > ? AND pos <= ?",
                    [session["session_no"], last, last + limit - len(items)],
                ).fetchall())
            if not rows:
                if session["exhausted"] or last < session["ranked"] - 1:
                    break
                if self._extend(session, topics) == 0:
                    session = self._session(session["session_no"])
                    break
                session = self._session(session["session_no"])
                continue
            last = rows[-1][0]
            items.extend(self._live(actor_id, rows))
        return items, last, session

    def _live(self, actor_id: str, rows: list[tuple]) -> list[dict]:
        """Cards of a handful of positions with live counts, liked state and the visibility rule.

        Primary-key lookups by literal ids only (DuckDB then uses the index), so the cost does not
        grow with the lab; the rule (sora_lab.consent.visibility) runs on just these rows.
        """
        cards = {r[1]: json.loads(r[4]) for r in rows if r[4]}
        ids = [r[1] for r in rows]
        listed = id_list(ids)
        with self.store.read() as cur:
            shown = visible_ids(cur, actor_id, ids, published_only=True)
            counts = {
                r[0]: r[1:]
                for r in cur.execute(
                    f"SELECT video_id, views, likes, shares, remixes, comments FROM feed_video_stats "
                    f"WHERE video_id IN ({listed})"
                ).fetchall()
            }
            waiting = pending_counts(cur, ids)
            live = {v: _with_pending(counts.get(v, (0, 0, 0, 0, 0)), waiting.get(v, {})) for v in shown}
            liked = liked_by(cur, actor_id, ids)
        items = []
        for pos, video_id, score, reasons, _ in rows:
            if video_id not in live or video_id not in cards:
                continue  # removed, blocked or a cameo withdrawn since the session was ranked
            views, likes, shares, remixes, comments = (x or 0 for x in live[video_id])
            items.append(
                cards[video_id]
                | {
                    "video_id": video_id,
                    "pos": pos,
                    "score": round(score, 4),
                    "reasons": list(reasons),
                    "counts": {"views": views, "likes": likes, "shares": shares, "remixes": remixes,
                               "comments": comments},
                    "liked": video_id in liked,
                }
            )
        return items


def _with_pending(counts: tuple, waiting: dict[str, int]) -> tuple:
    """(views, likes, shares, remixes, comments) plus the signals not folded yet."""
    names = ("views", "likes", "shares", "remixes", "comments")
    return tuple((n or 0) + waiting.get(name, 0) for name, n in zip(names, counts, strict=True))


def _card(row: dict, cameos: list[str]) -> dict:
    """What a clip shows that does not change after ranking (counts and liked are read live)."""
    return {
        "author_id": row["author_id"],
        "author": row["handle"],
        "prompt": row["prompt"],
        "duration_ms": row["duration_ms"],
        "width": row["width"],
        "height": row["height"],
        "media_path": row["media_path"],
        "poster_path": row["poster_path"],
        "media": _media_relative(row["media_path"]),
        "poster": _media_relative(row["poster_path"]),
        "parent_id": row["parent_id"],
        "published_at": row["published_at"].isoformat(),
        "cameos": cameos,
    }


def _cameo_handles(cur, video_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for video_id, handle in cur.execute(
        "SELECT vc.video_id, c.handle FROM video_cameos vc JOIN cameos c ON c.cameo_id = vc.cameo_id "
        "WHERE vc.video_id IN (SELECT unnest(?)) ORDER BY c.handle",
        [video_ids],
    ).fetchall():
        out.setdefault(video_id, []).append(handle)
    return out


def _resolve_user(cur, user_id: str | None, handle: str | None) -> str:
    """The user named by id or by handle (exactly one of them)."""
    if (user_id is None) == (handle is None):
        raise InputError("give either user_id or handle (e.g. handle='theo')")
    if handle is not None:
        row = cur.execute("SELECT user_id FROM users WHERE handle = ?", [handle_key(str(handle))]).fetchone()
        if row is None:
            raise NotFound(f"handle {handle!r}: no such user")
        return row[0]
    if not cur.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone():
        raise NotFound(f"user_id {user_id!r} does not exist")
    return user_id


def _media_relative(path: str | None) -> str | None:
    """'media/videos/x.mp4' (relative to the home) -> 'videos/x.mp4' (what Lab.media_url takes)."""
    if not path:
        return None
    return path[len("media/"):] if path.startswith("media/") else path
