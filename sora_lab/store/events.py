"""The append-only event log: the one source for engagement and growth metrics."""

from __future__ import annotations

import json
from datetime import datetime

EVENT_TYPES = frozenset(
    {
        "install",
        "invite_sent",
        "invite_redeemed",
        "session_start",
        "view",
        "like",
        "unlike",
        "share",
        "remix",
        "comment",
        "generate",
        "follow",
        "unfollow",
        "publish",
        "delete",
        "cameo_created",
        "cameo_permission",
        "cameo_grant",
        "cameo_revoke",
        "cameo_use",
        "cameo_refused",
        "cameo_removed_use",
        "cameo_deleted",
        "cameo_face_match",  # a new cameo's face matched this one's: refused (sora_lab.consent.registration)
    }
)
"""Types counted as 'active' are listed in sora_lab.metrics; cameo_* cover the consent audit trail."""


def append_event(
    cur,
    ts: datetime,
    user_id: str | None,
    type_: str,
    *,
    video_id: str | None = None,
    target_id: str | None = None,
    region: str | None = None,
    watch_ms: int | None = None,
    props: dict | None = None,
) -> None:
    """Insert one live event inside the caller's transaction."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    cur.execute(
        "INSERT INTO events (ts, user_id, type, video_id, target_id, region, watch_ms, props) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [ts, user_id, type_, video_id, target_id, region, watch_ms, None if props is None else json.dumps(props)],
    )
