"""Engagement writes: views, likes, shares, comments, follows — batched and
idempotent per client event id, so a client may safely retry a batch."""

from __future__ import annotations

from sora_lab.errors import InputError, NotFound
from sora_lab.ids import new_id, utcnow
from sora_lab.store.db import Store
from sora_lab.store.events import append_event

CLIENT_EVENT_TYPES = ("session_start", "view", "like", "unlike", "share", "comment", "follow", "unfollow")
_NEEDS_VIDEO = {"view", "like", "unlike", "share", "comment"}
_NEEDS_TARGET_USER = {"follow", "unfollow"}
MAX_BATCH = 1000
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
        text = event.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_COMMENT_CHARS:
            raise InputError(f"{where}.text must be 1-{MAX_COMMENT_CHARS} characters")
    return event


class EngagementService:
    def __init__(self, store: Store):
        self.store = store

    def record(self, *, actor_id: str, events: list[dict]) -> dict:
        """Store a batch atomically. Returns how many were new and how many were duplicates."""
        if not isinstance(events, list) or not events:
            raise InputError("events must be a non-empty list")
        if len(events) > MAX_BATCH:
            raise InputError(f"events: at most {MAX_BATCH} per batch, got {len(events)}; split the batch")
        checked = [_validate(e, i) for i, e in enumerate(events)]
        now = utcnow()
        stored = duplicates = 0
        with self.store.write() as cur:
            region = cur.execute("SELECT region FROM users WHERE user_id = ?", [actor_id]).fetchone()[0]
            self._check_targets(cur, checked)
            for event in checked:
                client_id = event.get("client_event_id")
                if client_id is not None:
                    key = f"{actor_id}:{client_id}"
                    if cur.execute("SELECT 1 FROM client_events WHERE client_event_id = ?", [key]).fetchone():
                        duplicates += 1
                        continue
                    cur.execute("INSERT INTO client_events VALUES (?, ?, ?)", [key, actor_id, now])
                self._apply(cur, now, actor_id, region, event)
                stored += 1
        return {"stored": stored, "duplicates": duplicates}

    def _check_targets(self, cur, events: list[dict]) -> None:
        video_ids = sorted({e["video_id"] for e in events if e["type"] in _NEEDS_VIDEO})
        if video_ids:
            found = {
                r[0]
                for r in cur.execute(
                    "SELECT video_id FROM videos WHERE video_id IN (SELECT unnest(?)) AND status = 'published'",
                    [video_ids],
                ).fetchall()
            }
            missing = [v for v in video_ids if v not in found]
            if missing:
                raise NotFound(f"video_id {missing[0]!r} is not a published video; nothing in this batch was stored")
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

    def _apply(self, cur, now, actor_id: str, region: str, event: dict) -> None:
        type_ = event["type"]
        video_id = event.get("video_id")
        target = event.get("user_id")
        if type_ == "like":
            cur.execute("INSERT OR IGNORE INTO likes VALUES (?, ?, ?)", [actor_id, video_id, now])
        elif type_ == "unlike":
            cur.execute("DELETE FROM likes WHERE user_id = ? AND video_id = ?", [actor_id, video_id])
        elif type_ == "comment":
            cur.execute(
                "INSERT INTO comments VALUES (?, ?, ?, ?, ?)",
                [new_id("c"), video_id, actor_id, event["text"].strip(), now],
            )
        elif type_ == "follow":
            cur.execute("INSERT OR IGNORE INTO follows VALUES (?, ?, ?)", [actor_id, target, now])
        elif type_ == "unfollow":
            cur.execute("DELETE FROM follows WHERE follower_id = ? AND followee_id = ?", [actor_id, target])
        append_event(
            cur,
            now,
            actor_id,
            type_,
            video_id=video_id,
            target_id=target,
            region=region,
            watch_ms=event.get("watch_ms"),
        )

    def counts(self, *, video_id: str) -> dict:
        """Engagement counters of one video (likes are current state; the rest count events)."""
        with self.store.read() as cur:
            likes = cur.execute("SELECT count(*) FROM likes WHERE video_id = ?", [video_id]).fetchone()[0]
            rows = cur.execute(
                "SELECT type, count(*) FROM events WHERE video_id = ? AND source = 'live' "
                "AND type IN ('view', 'share', 'remix', 'comment') GROUP BY type",
                [video_id],
            ).fetchall()
        by_type = dict(rows)
        return {
            "video_id": video_id,
            "likes": likes,
            "views": by_type.get("view", 0),
            "shares": by_type.get("share", 0),
            "remixes": by_type.get("remix", 0),
            "comments": by_type.get("comment", 0),
        }

    def liked(self, *, actor_id: str, video_ids: list[str]) -> list[str]:
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT video_id FROM likes WHERE user_id = ? AND video_id IN (SELECT unnest(?))",
                [actor_id, list(video_ids)],
            ).fetchall()
        return [r[0] for r in rows]
