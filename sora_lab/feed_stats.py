"""Feed aggregates, fed through a queue so engagement ingest stays fast at any lab size.

Ranking must not scan tens of millions of events per request, so it reads per-video
aggregates (`feed_video_stats`: views, watch-throughs, likes, shares, comments) and
per-viewer taste vectors (`feed_user_taste`: a weighted sum of prompt embeddings).

Updating those for every engagement batch means joining million-row tables each time.
Instead a batch appends its signals to `feed_pending` (in the same transaction as the
events, so nothing is lost), and `fold_pending` applies everything waiting in one pass:
inside `record` once FOLD_AT signals wait, and before a feed session is ranked. Counts
shown to people add the waiting signals, so they are exact at every moment.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from sora_lab.feed_index import WATCH_THROUGH, arrow, ensure_stats_rows, vector_table, vectors
from sora_lab.feed_sql import id_list

# How much each signal moves the viewer's taste (a weighted sum of prompt vectors).
TASTE_WEIGHTS = {"watch_through": 1.0, "like": 1.5, "share": 1.0}
FOLD_AT = 100_000  # signals waiting before `record` folds them (amortises the million-row joins)
_COUNTED = {"view": "views", "share": "shares", "comment": "comments", "like": "likes"}
_FIELDS = ("views", "watch_throughs", "likes", "shares", "comments")


def queue_signals(cur, actor_id: str, events: list[dict], like_delta: dict[str, int]) -> int:
    """Append a batch's feed signals to feed_pending; returns how many signals now wait."""
    rows = [(e["video_id"], e["type"], e.get("watch_ms"), 1) for e in events if e["type"] in ("view", "share",
                                                                                                 "comment")]
    rows += [(v, "like", None, change) for v, change in like_delta.items() if change]
    if rows:
        video_ids, kinds, watch, delta = (list(col) for col in zip(*rows, strict=True))
        cur.execute("INSERT INTO feed_pending SELECT ?, unnest(?), unnest(?), unnest(?), unnest(?)",
                    [actor_id, video_ids, kinds, watch, delta])
    return cur.execute("SELECT count(*) FROM feed_pending").fetchone()[0]


def pending_counts(cur, video_ids: list[str]) -> dict[str, dict[str, int]]:
    """Signals not folded yet, per video: add these to feed_video_stats for exact counts."""
    if not video_ids:
        return {}
    rows = cur.execute(
        "SELECT video_id, kind, sum(delta) FROM feed_pending WHERE video_id IN (SELECT unnest(?)) GROUP BY ALL",
        [video_ids],
    ).fetchall()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for video_id, kind, n in rows:
        out[video_id][_COUNTED[kind]] = int(n)
    return out


def fold_pending(cur) -> int:
    """Inside a write: apply every waiting signal to the aggregates and tastes, then clear the queue."""
    rows = cur.execute("SELECT user_id, video_id, kind, watch_ms, delta FROM feed_pending").fetchall()
    if not rows:
        return 0
    video_ids = sorted({r[1] for r in rows})
    duration = _durations(cur, video_ids)
    delta = {v: dict.fromkeys(_FIELDS, 0) for v in video_ids}
    taste: dict[tuple[str, str], float] = defaultdict(float)
    for user_id, video_id, kind, watch_ms, change in rows:
        d = delta[video_id]
        d[_COUNTED[kind]] += change
        if kind == "view" and watch_ms >= WATCH_THROUGH * duration.get(video_id, 10**9):
            d["watch_throughs"] += 1
            taste[user_id, video_id] += TASTE_WEIGHTS["watch_through"]
        elif kind in ("share", "like"):
            taste[user_id, video_id] += change * TASTE_WEIGHTS[kind]
    _add_to_stats(cur, {v: d for v, d in delta.items() if any(d.values())})
    _add_to_taste(cur, {k: w for k, w in taste.items() if w != 0})
    cur.execute("DELETE FROM feed_pending")
    return len(rows)


def _durations(cur, video_ids: list[str]) -> dict[str, int]:
    """duration_ms per video, giving a stats row first to videos no feed read has mirrored yet."""
    def lookup(ids: list[str]) -> dict[str, int]:
        if len(ids) <= 200:  # literals: DuckDB probes the primary-key index instead of scanning
            query = f"SELECT video_id, duration_ms FROM feed_video_stats WHERE video_id IN ({id_list(ids)})"
            return dict(cur.execute(query).fetchall())
        return dict(cur.execute("SELECT video_id, duration_ms FROM feed_video_stats "
                                "WHERE video_id IN (SELECT unnest(?))", [ids]).fetchall())

    duration = lookup(video_ids)
    missing = [v for v in video_ids if v not in duration]
    if missing:
        ensure_stats_rows(cur, missing)
        duration |= lookup(missing)
    return duration


def _add_to_stats(cur, delta: dict[str, dict[str, int]]) -> None:
    if not delta:
        return
    changed = sorted(delta)
    if len(changed) <= 50:
        # A few videos: CASE by id and an IN list of literals, so DuckDB updates through the
        # primary-key index instead of joining the whole table.
        sets = ", ".join(
            f"{f} = {f} + CASE video_id "
            + " ".join(f"WHEN '{v}' THEN {delta[v][f]}" for v in changed if delta[v][f])
            + " ELSE 0 END"
            for f in _FIELDS
            if any(delta[v][f] for v in changed)
        )
        cur.execute(f"UPDATE feed_video_stats SET {sets} WHERE video_id IN ({id_list(changed)})")
        return
    cur.execute(
        "UPDATE feed_video_stats SET views = views + d.dv, watch_throughs = watch_throughs + d.dw, "
        "likes = likes + d.dl, shares = shares + d.ds, comments = comments + d.dc "
        "FROM (SELECT unnest(?) AS vid, unnest(?) AS dv, unnest(?) AS dw, unnest(?) AS dl, "
        "unnest(?) AS ds, unnest(?) AS dc) d WHERE feed_video_stats.video_id = d.vid",
        [changed] + [[delta[v][f] for v in changed] for f in _FIELDS],
    )


def _add_to_taste(cur, weights: dict[tuple[str, str], float]) -> None:
    """taste(user) += sum(weight x prompt vector) for all users at once (videos not yet embedded are skipped)."""
    if not weights:
        return
    table = arrow(
        cur,
        "SELECT s.video_id, e.embedding FROM feed_video_stats s JOIN feed_prompt_embeddings e "
        "ON e.prompt_key = s.prompt_key WHERE s.video_id IN (SELECT unnest(?))",
        [sorted({v for _, v in weights})],
    )
    row = {v: i for i, v in enumerate(table.column("video_id").to_pylist())}
    weights = {k: w for k, w in weights.items() if k[1] in row}
    if not weights:
        return
    matrix = vectors(table, "embedding").astype(np.float64)
    users = sorted({u for u, _ in weights})
    at = {u: i for i, u in enumerate(users)}
    user_idx = np.array([at[u] for u, _ in weights])
    w = np.array(list(weights.values()), np.float64)
    add = np.zeros((len(users), matrix.shape[1]))
    np.add.at(add, user_idx, w[:, None] * matrix[[row[v] for _, v in weights]])
    total = np.bincount(user_idx, weights=w, minlength=len(users))
    current = arrow(cur, "SELECT user_id, weight, vec FROM feed_user_taste WHERE user_id IN (SELECT unnest(?))",
                    [users])
    if current.num_rows:
        idx = [at[u] for u in current.column("user_id").to_pylist()]
        add[idx] += vectors(current, "vec")
        total[idx] += current.column("weight").to_numpy()
    table = vector_table(users, add.astype(np.float32), "user_id", "vec").append_column(
        "weight", [np.maximum(total, 0.0)])
    cur.register("folded_taste", table)
    try:
        cur.execute("INSERT INTO feed_user_taste SELECT user_id, weight, vec::FLOAT[384] FROM folded_taste "
                    "ON CONFLICT (user_id) DO UPDATE SET weight = excluded.weight, vec = excluded.vec")
    finally:
        cur.unregister("folded_taste")
