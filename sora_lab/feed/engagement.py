"""Engagement: views, likes, shares, comments, follows — written in batches,
idempotent per client event id, so a client may safely retry a batch (for
CLIENT_ID_RETENTION after sending it); and the reads around them (counts, liked
state, a clip's comments).

Every video an event or a read names must be visible to the caller by the one
rule (sora_lab.consent.visibility): a clip whose cameo consent was withdrawn, a
draft, an unpublished or deleted clip, or one by an author the caller blocked,
is "not found" here as everywhere else."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from sora_lab.consent.visibility import require_visible, visible_ids
from sora_lab.core.errors import InputError, NotFound
from sora_lab.core.ids import iso_utc, new_id, utcnow
from sora_lab.core.text import clean_text
from sora_lab.feed.sql import like_key_list
from sora_lab.feed.stats import FOLD_AT, fold_pending, pending_counts, queue_signals
from sora_lab.store.db import Store, registered

CLIENT_EVENT_TYPES = ("session_start", "view", "like", "unlike", "share", "comment", "follow", "unfollow")
_NEEDS_VIDEO = {"view", "like", "unlike", "share", "comment"}
_NEEDS_TARGET_USER = {"follow", "unfollow"}
MAX_BATCH = 5000
MAX_WATCH_MS = 10 * 60 * 1000
MAX_COMMENT_CHARS = 500


def _validate(event: dict, index: int) -> dict:
    """Check one client event; the message names the batch index and the field."""
    where = f"events[{index}]"
    if not isinstance(event, dict):
        raise InputError(f"{where} must be an object like {{'type': 'view', 'video_id': ...}}")
    type_ = event.get("type")
    if type_ not in CLIENT_EVENT_TYPES:
        raise InputError(f"{where}.type {type_!r} is not one of {', '.join(CLIENT_EVENT_TYPES)}")
    client_id = event.get("client_event_id")
    if client_id is not None and (not isinstance(client_id, str) or not 1 <= len(client_id) <= 100):
        raise InputError(f"{where}.client_event_id must be a string of 1-100 characters")
    if type_ in _NEEDS_VIDEO and not isinstance(event.get("video_id"), str):
        raise InputError(f"{where}.video_id is required for {type_} events")
    if type_ in _NEEDS_TARGET_USER and not isinstance(event.get("user_id"), str):
        raise InputError(f"{where}.user_id (who to {type_}) is required")
    watch_ms = event.get("watch_ms")
    if type_ == "view":
        if not isinstance(watch_ms, int) or isinstance(watch_ms, bool) or not 0 <= watch_ms <= MAX_WATCH_MS:
            raise InputError(f"{where}.watch_ms must be an integer number of milliseconds, 0..{MAX_WATCH_MS}")
    if type_ == "comment":
        text = clean_text(event.get("text"), f"{where}.text", max_chars=MAX_COMMENT_CHARS, multiline=True).strip()
        return event | {"text": text}
    return event


# Client ids make retries safe; clients retry within minutes, so ids older than this are
# forgotten (checked every PRUNE_EVERY batches) and the key index stays bounded.
CLIENT_ID_RETENTION = timedelta(days=7)
PRUNE_EVERY = 1000


class EngagementService:
    def __init__(self, store: Store):
        self.store = store
        self._batches = 0

    def record(self, *, actor_id: str, events: list[dict]) -> dict:
        """Store a batch atomically. Returns how many were new and how many were duplicates.

        The batch is applied with a handful of set-based statements (not one per
        event): client ids are claimed with one INSERT,
        like/follow state is resolved in order in Python, and the event rows and
        feed signals are appended in bulk (`sora_lab.feed.stats` folds the signals
        into the ranking aggregates).
        """
        if not isinstance(events, list) or not events:
            raise InputError("events must be a non-empty list")
        if len(events) > MAX_BATCH:
            raise InputError(f"events: at most {MAX_BATCH} per batch, got {len(events)}; split the batch")
        checked = [_validate(e, i) for i, e in enumerate(events)]
        now = utcnow()
        # First try assumes every client id is new (a plain INSERT, ~10x cheaper than OR IGNORE on a
        # big table); a retried batch hits the key constraint, rolls back whole and goes the careful way.
        for retried in (False, True):
            try:
                with self.store.write() as cur:
                    row = cur.execute("SELECT region FROM users WHERE user_id = ?", [actor_id]).fetchone()
                    if row is None:
                        raise NotFound(f"actor {actor_id!r} does not exist")
                    self._check_targets(cur, actor_id, checked)
                    fresh = self._claim_client_ids(cur, actor_id, checked, now, some_seen=retried)
                    if fresh:
                        self._apply(cur, now, actor_id, row[0], fresh)
                self._batches += 1
                if self._batches % PRUNE_EVERY == 0:
                    self.forget_client_ids(before=now - CLIENT_ID_RETENTION)
                return {"stored": len(fresh), "duplicates": len(checked) - len(fresh)}
            except duckdb.ConstraintException:
                if retried:
                    raise
        raise AssertionError("unreachable")

    def forget_client_ids(self, *, before: datetime) -> int:
        """Drop client ids received before `before`: a batch retried after that is stored again."""
        with self.store.write() as cur:
            return cur.execute("DELETE FROM client_events WHERE received_at < ?", [before]).fetchall()[0][0]

    @staticmethod
    def _claim_client_ids(cur, actor_id: str, events: list[dict], now, *, some_seen: bool) -> list[dict]:
        """Events not seen before: no client id, or a client id this user has not sent yet.

        With some_seen=False the ids are inserted plainly and a known one raises ConstraintException.
        """
        keys: dict[str, int] = {}
        for i, event in enumerate(events):
            cid = event.get("client_event_id")
            if cid is not None:
                keys.setdefault(f"{actor_id}:{cid}", i)  # a repeat inside one batch is a duplicate too
        claimed: set[str] = set()
        if keys and not some_seen:
            with registered(cur, "new_client_ids", pa.table({"k": pa.array(list(keys), pa.string())})):
                cur.execute("INSERT INTO client_events SELECT k, ?, ? FROM new_client_ids", [actor_id, now])
            claimed = set(keys)
        elif keys:
            claimed = {
                r[0]
                for r in cur.execute(
                    "INSERT OR IGNORE INTO client_events SELECT unnest(?), ?, ? RETURNING client_event_id",
                    [list(keys), actor_id, now],
                ).fetchall()
            }
        first = {i for k, i in keys.items() if k in claimed}
        return [e for i, e in enumerate(events) if e.get("client_event_id") is None or i in first]

    @staticmethod
    def _check_targets(cur, actor_id: str, events: list[dict]) -> None:
        named = {e["video_id"] for e in events if e["type"] in _NEEDS_VIDEO}
        missing = sorted(named - visible_ids(cur, actor_id, named, published_only=True))
        if missing:
            raise NotFound(f"video_id {missing[0]!r} is not a published video you can see; nothing in this batch "
                           "was stored")
        user_ids = sorted({e["user_id"] for e in events if e["type"] in _NEEDS_TARGET_USER})
        if user_ids:
            found = {
                r[0]
                for r in cur.execute(
                    "SELECT user_id FROM users WHERE user_id IN (SELECT unnest(?))", [user_ids]
                ).fetchall()
            }
            missing = [u for u in user_ids if u not in found]
            if missing:
                raise NotFound(f"user_id {missing[0]!r} does not exist; nothing in this batch was stored")

    def _apply(self, cur, now, actor_id: str, region: str, events: list[dict]) -> None:
        like_delta = self._resolve_likes(cur, now, actor_id, events)
        self._resolve_follows(cur, now, actor_id, events)
        comments = [e for e in events if e["type"] == "comment"]
        if comments:
            cur.execute(
                "INSERT INTO comments SELECT unnest(?), unnest(?), ?, unnest(?), ?",
                [[new_id("c") for _ in comments], [e["video_id"] for e in comments], actor_id,
                 [e["text"].strip() for e in comments], now],
            )
        table = pa.table({
            "type": pa.array([e["type"] for e in events], pa.string()),
            "video_id": pa.array([e.get("video_id") for e in events], pa.string()),
            "target_id": pa.array([e.get("user_id") for e in events], pa.string()),
            "watch_ms": pa.array([e.get("watch_ms") for e in events], pa.int32()),
        })
        with registered(cur, "new_events", table):  # Arrow: half the cost of five unnest(?) lists
            cur.execute("INSERT INTO events (ts, user_id, type, video_id, target_id, region, watch_ms) "
                        "SELECT ?, ?, type, video_id, target_id, ?, watch_ms FROM new_events", [now, actor_id, region])
        if queue_signals(cur, actor_id, events, like_delta) >= FOLD_AT:
            fold_pending(cur)

    @staticmethod
    def _resolve_likes(cur, now, actor_id: str, events: list[dict]) -> dict[str, int]:
        """Apply like/unlike in order; returns the net change of each video's like count (-1, 0, +1)."""
        touched = sorted({e["video_id"] for e in events if e["type"] in ("like", "unlike")})
        if not touched:
            return {}
        prefix = f"{actor_id}:"
        before = {
            r[0][len(prefix):]
            for r in cur.execute(
                f"SELECT like_key FROM feed_like_keys WHERE like_key IN ({like_key_list(actor_id, touched)})"
            ).fetchall()
        }
        added, removed = _net_change(before, events, "like", "unlike", "video_id")
        if added:
            cur.execute("INSERT INTO likes SELECT ?, unnest(?), ?", [actor_id, added, now])
            # Plain INSERT: `added` was just checked absent under the write lock, and DuckDB's
            # OR IGNORE costs ~50 ms here on a table of millions of keys (plain: ~3 ms).
            cur.execute("INSERT INTO feed_like_keys SELECT unnest(?)", [[f"{actor_id}:{v}" for v in added]])
        if removed:
            cur.execute("DELETE FROM likes WHERE user_id = ? AND video_id IN (SELECT unnest(?))", [actor_id, removed])
            cur.execute("DELETE FROM feed_like_keys WHERE like_key IN (SELECT unnest(?))",
                        [[f"{actor_id}:{v}" for v in removed]])
        return {v: 1 for v in added} | {v: -1 for v in removed}

    @staticmethod
    def _resolve_follows(cur, now, actor_id: str, events: list[dict]) -> None:
        touched = sorted({e["user_id"] for e in events if e["type"] in _NEEDS_TARGET_USER})
        if not touched:
            return
        before = {
            r[0]
            for r in cur.execute(
                "SELECT followee_id FROM follows WHERE follower_id = ? AND followee_id IN (SELECT unnest(?))",
                [actor_id, touched],
            ).fetchall()
        }
        added, removed = _net_change(before, events, "follow", "unfollow", "user_id")
        if added:
            cur.execute("INSERT INTO follows SELECT ?, unnest(?), ?", [actor_id, added, now])
        if removed:
            cur.execute(
                "DELETE FROM follows WHERE follower_id = ? AND followee_id IN (SELECT unnest(?))", [actor_id, removed]
            )

    def counts(self, *, video_id: str, actor_id: str | None = None) -> dict:
        """Engagement counters of one video you can see: the feed aggregates plus signals not folded yet (exact)."""
        require_visible(self.store, actor_id, video_id)
        with self.store.read() as cur:
            row = cur.execute(
                "SELECT views, likes, shares, remixes, comments FROM feed_video_stats WHERE video_id = ?", [video_id]
            ).fetchone() or (0, 0, 0, 0, 0)
            waiting = pending_counts(cur, [video_id]).get(video_id, {})
        counts = dict(zip(("views", "likes", "shares", "remixes", "comments"), row, strict=True))
        return {"video_id": video_id} | {k: n + waiting.get(k, 0) for k, n in counts.items()}

    def liked(self, *, actor_id: str, video_ids: list[str]) -> list[str]:
        """Which of these videos the caller likes now (index lookups, fast at any size)."""
        if not isinstance(video_ids, list) or not all(isinstance(v, str) for v in video_ids):
            raise InputError("video_ids must be a list of video id strings")
        if not video_ids:
            return []
        if len(video_ids) > MAX_BATCH:
            raise InputError(f"video_ids: at most {MAX_BATCH} at a time")
        with self.store.read() as cur:
            return sorted(liked_by(cur, actor_id, video_ids) & visible_ids(cur, actor_id, video_ids))

    def comments(self, *, actor_id: str, video_id: str, limit: int = 50) -> list[dict]:
        """The newest comments on a video you can see (NotFound for one you cannot), newest first."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 500:
            raise InputError("limit: give an integer between 1 and 500")
        require_visible(self.store, actor_id, video_id)
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT c.comment_id, u.handle, c.text, c.created_at FROM comments c "
                "LEFT JOIN users u ON u.user_id = c.user_id WHERE c.video_id = ? "
                "ORDER BY c.created_at DESC, c.comment_id LIMIT ?",
                [video_id, limit],
            ).fetchall()
        return [{"comment_id": r[0], "author": r[1], "text": r[2], "created_at": iso_utc(r[3])} for r in rows]


def liked_by(store_or_cur, user_id: str, video_ids: list[str]) -> set[str]:
    """The subset of `video_ids` that `user_id` likes now."""
    if not video_ids:
        return set()
    query = f"SELECT like_key FROM feed_like_keys WHERE like_key IN ({like_key_list(user_id, video_ids)})"
    if isinstance(store_or_cur, Store):
        with store_or_cur.read() as cur:
            rows = cur.execute(query).fetchall()
    else:
        rows = store_or_cur.execute(query).fetchall()
    return {r[0].split(":", 1)[1] for r in rows}


def _net_change(before: set[str], events: list[dict], add: str, remove: str, key: str) -> tuple[list[str], list[str]]:
    """Replay a batch's add/remove events (in order) over the current set; what to insert and delete.

    A like then an unlike of the same clip in one batch nets to nothing, so the tables are
    written once per batch, not once per event.
    """
    state = set(before)
    for e in events:
        if e["type"] == add:
            state.add(e[key])
        elif e["type"] == remove:
            state.discard(e[key])
    return sorted(state - before), sorted(before - state)
