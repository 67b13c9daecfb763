"""Incremental feed aggregates, written in the same transaction as the engagement.

Ranking must not scan tens of millions of events per request, so each batch
adds its own deltas to `feed_video_stats` (views, watch-throughs, likes,
shares, comments) and folds the viewer's strong signals into their taste
vector (`feed_user_taste`: a weighted sum of prompt embeddings).
"""

from __future__ import annotations

import numpy as np

from sora_lab.feed_index import WATCH_THROUGH, arrow, ensure_stats_rows, vectors
from sora_lab.feed_sql import id_list

# How much each signal moves the viewer's taste (a weighted sum of prompt vectors).
TASTE_WEIGHTS = {"watch_through": 1.0, "like": 1.5, "share": 1.0}


def update_video_stats(cur, actor_id: str, events: list[dict], like_delta: dict[str, int]) -> None:
    video_ids = sorted({e["video_id"] for e in events if e.get("video_id")} | set(like_delta))
    if not video_ids:
        return
    duration = dict(
        cur.execute(f"SELECT video_id, duration_ms FROM feed_video_stats WHERE video_id IN ({id_list(video_ids)})")
        .fetchall()
    )
    missing = [v for v in video_ids if v not in duration]
    if missing:  # engagement can arrive before any feed read mirrored the video
        ensure_stats_rows(cur, missing)
        duration |= dict(
            cur.execute(
                "SELECT video_id, duration_ms FROM feed_video_stats WHERE video_id IN (SELECT unnest(?))", [missing]
            ).fetchall()
        )
    fields = ("views", "watch_throughs", "likes", "shares", "comments")
    delta = {v: dict.fromkeys(fields, 0) for v in video_ids}
    taste: dict[str, float] = {}
    for e in events:
        v = e.get("video_id")
        if e["type"] == "view":
            delta[v]["views"] += 1
            if e["watch_ms"] >= WATCH_THROUGH * duration.get(v, 10**9):
                delta[v]["watch_throughs"] += 1
                taste[v] = taste.get(v, 0.0) + TASTE_WEIGHTS["watch_through"]
        elif e["type"] == "share":
            delta[v]["shares"] += 1
            taste[v] = taste.get(v, 0.0) + TASTE_WEIGHTS["share"]
        elif e["type"] == "comment":
            delta[v]["comments"] += 1
    for v, change in like_delta.items():
        delta[v]["likes"] += change
        taste[v] = taste.get(v, 0.0) + change * TASTE_WEIGHTS["like"]
    changed = [v for v in video_ids if any(delta[v].values())]
    if 0 < len(changed) <= 50:
        # A few videos (a viewer's batch): CASE by id and an IN list of literals, so DuckDB
        # updates through the primary-key index instead of joining the whole table.
        sets = ", ".join(
            f"{col} = {col} + CASE video_id "
            + " ".join(f"WHEN '{v}' THEN {delta[v][f]}" for v in changed if delta[v][f])
            + " ELSE 0 END"
            for col, f in zip(("views", "watch_throughs", "likes", "shares", "comments"), fields, strict=True)
            if any(delta[v][f] for v in changed)
        )
        cur.execute(f"UPDATE feed_video_stats SET {sets} WHERE video_id IN ({id_list(changed)})")
    elif changed:
        cur.execute(
            "UPDATE feed_video_stats SET views = views + d.dv, watch_throughs = watch_throughs + d.dw, "
            "likes = likes + d.dl, shares = shares + d.ds, comments = comments + d.dc "
            "FROM (SELECT unnest(?) AS vid, unnest(?) AS dv, unnest(?) AS dw, unnest(?) AS dl, "
            "unnest(?) AS ds, unnest(?) AS dc) d WHERE feed_video_stats.video_id = d.vid",
            [changed] + [[delta[v][f] for v in changed] for f in fields],
        )
    taste = {v: w for v, w in taste.items() if w != 0}
    if taste:
        update_taste(cur, actor_id, taste)


def update_taste(cur, user_id: str, weights: dict[str, float]) -> None:
    """Add sum(weight * prompt vector) for these videos to the user's taste (videos not yet embedded are skipped)."""
    table = arrow(
        cur,
        "SELECT s.video_id, e.embedding FROM feed_video_stats s "
        f"JOIN feed_prompt_embeddings e ON e.prompt_key = s.prompt_key WHERE s.video_id IN ({id_list(list(weights))})",
    )
    if table.num_rows == 0:
        return
    w = np.array([weights[v] for v in table.column("video_id").to_pylist()], np.float64)
    add = w @ vectors(table, "embedding").astype(np.float64)
    total = float(w.sum())
    current = cur.execute("SELECT weight, vec FROM feed_user_taste WHERE user_id = ?", [user_id]).fetchone()
    if current is not None:
        add += np.asarray(current[1], np.float64)
        total += current[0]
    cur.execute(
        "INSERT INTO feed_user_taste VALUES (?, ?, ?::FLOAT[384]) "
        "ON CONFLICT (user_id) DO UPDATE SET weight = excluded.weight, vec = excluded.vec",
        [user_id, max(total, 0.0), add.astype(np.float32).tolist()],
    )
