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
import pyarrow as pa

from sora_lab.core.embeddings import EMBEDDING_DIM
from sora_lab.feed.index import WATCH_THROUGH, arrow, ensure_stats_rows, vector_table, vectors
from sora_lab.feed.sql import id_list
from sora_lab.store.db import registered

# How much each signal moves the viewer's taste (a weighted sum of prompt vectors).
TASTE_WEIGHTS = {"watch_through": 1.0, "like": 1.5, "share": 1.0}
FOLD_AT = 100_000  # signals waiting before `record` folds them (amortises the million-row joins)
FEW_VIDEOS = 200  # folds touching at most this many videos go by primary key
_COUNTED = {"view": "views", "share": "shares", "comment": "comments", "like": "likes"}
_FIELDS = ("views", "watch_throughs", "likes", "shares", "comments")


def queue_signals(cur, actor_id: str, events: list[dict], like_delta: dict[str, int]) -> int:
    """Append a batch's feed signals to feed_pending; returns how many signals now wait."""
    counted = [e for e in events if e["type"] in ("view", "share", "comment")]
    likes = [(v, change) for v, change in like_delta.items() if change]
    if counted or likes:
        table = pa.table({
            "video_id": pa.array([e["video_id"] for e in counted] + [v for v, _ in likes], pa.string()),
            "kind": pa.array([e["type"] for e in counted] + ["like"] * len(likes), pa.string()),
            "watch_ms": pa.array([e.get("watch_ms") for e in counted] + [None] * len(likes), pa.int32()),
            "delta": pa.array([1] * len(counted) + [c for _, c in likes], pa.int32()),
        })
        with registered(cur, "new_signals", table):
            cur.execute("INSERT INTO feed_pending SELECT ?, video_id, kind, watch_ms, delta FROM new_signals",
                        [actor_id])
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
    """Inside a write: apply every waiting signal to the aggregates and tastes, then clear the queue.

    Grouping happens in DuckDB, so a fold of 100k signals costs a few joins, not a Python loop.
    A small fold (a viewer's likes before their next page) reads its few videos by primary key
    instead of joining the million-row aggregates table.
    """
    waiting = cur.execute("SELECT count(*) FROM feed_pending").fetchone()[0]
    if not waiting:
        return 0
    video_ids = [r[0] for r in cur.execute("SELECT DISTINCT video_id FROM feed_pending").fetchall()]
    few = len(video_ids) <= FEW_VIDEOS
    stats = (f"(SELECT video_id, duration_ms, prompt_key FROM feed_video_stats WHERE video_id IN "
             f"({id_list(video_ids)}))" if few else "feed_video_stats")
    missing = cur.execute(f"SELECT DISTINCT video_id FROM feed_pending ANTI JOIN {stats} s USING (video_id)").fetchall()
    if missing:  # engagement can arrive before any feed read mirrored the video
        ensure_stats_rows(cur, [r[0] for r in missing])
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE fold_rows AS
            SELECT p.user_id, p.video_id, p.kind, p.delta, s.prompt_key,
                   p.kind = 'view' AND p.watch_ms >= {WATCH_THROUGH} * s.duration_ms AS watched
            FROM feed_pending p JOIN {stats} s USING (video_id)"""
    )
    deltas = """SELECT video_id, count(*) FILTER (WHERE kind = 'view') AS views,
                       count(*) FILTER (WHERE watched) AS watch_throughs,
                       coalesce(sum(delta) FILTER (WHERE kind = 'like'), 0) AS likes,
                       count(*) FILTER (WHERE kind = 'share') AS shares,
                       count(*) FILTER (WHERE kind = 'comment') AS comments
                FROM fold_rows GROUP BY ALL"""
    if few:
        _add_to_few(cur, {r[0]: dict(zip(_FIELDS, r[1:], strict=True)) for r in cur.execute(deltas).fetchall()})
    else:
        sets = ", ".join(f"{f} = feed_video_stats.{f} + d.{f}" for f in _FIELDS)
        cur.execute(f"UPDATE feed_video_stats SET {sets} FROM ({deltas}) d "
                    "WHERE feed_video_stats.video_id = d.video_id")
    signals = arrow(
        cur,
        f"""SELECT t.user_id, t.w, e.embedding FROM (
                SELECT user_id, prompt_key,
                       sum(CASE WHEN kind = 'like' THEN delta * {TASTE_WEIGHTS['like']}
                                WHEN kind = 'share' THEN {TASTE_WEIGHTS['share']}
                                ELSE {TASTE_WEIGHTS['watch_through']} END) AS w
                FROM fold_rows WHERE kind IN ('like', 'share') OR watched GROUP BY ALL) t
            JOIN feed_prompt_embeddings e USING (prompt_key) WHERE t.w != 0""",
    )
    _add_to_taste(cur, signals)
    cur.execute("DELETE FROM feed_pending")
    cur.execute("DROP TABLE fold_rows")
    return waiting


def _add_to_few(cur, delta: dict[str, dict[str, int]]) -> None:
    """A few videos: CASE by id and an IN list of literals, so DuckDB updates through the
    primary-key index instead of joining the whole table."""
    delta = {v: d for v, d in delta.items() if any(d.values())}
    if not delta:
        return
    changed = sorted(delta)
    sets = ", ".join(
        f"{f} = {f} + CASE video_id "
        + " ".join(f"WHEN '{v}' THEN {delta[v][f]}" for v in changed if delta[v][f])
        + " ELSE 0 END"
        for f in _FIELDS
        if any(delta[v][f] for v in changed)
    )
    cur.execute(f"UPDATE feed_video_stats SET {sets} WHERE video_id IN ({id_list(changed)})")


def _add_to_taste(cur, signals: pa.Table) -> None:
    """taste(user) += sum(w x prompt vector) over rows (user_id, w, embedding), for all users at once."""
    if signals.num_rows == 0:
        return
    users, user_idx = np.unique(signals.column("user_id").to_numpy(zero_copy_only=False), return_inverse=True)
    users = [str(u) for u in users]
    w = signals.column("w").to_numpy().astype(np.float64)
    add = np.zeros((len(users), EMBEDDING_DIM))
    np.add.at(add, user_idx, w[:, None] * vectors(signals, "embedding"))
    total = np.bincount(user_idx, weights=w, minlength=len(users))
    current = arrow(cur, "SELECT user_id, weight, vec FROM feed_user_taste WHERE user_id IN (SELECT unnest(?))",
                    [users])
    if current.num_rows:
        at = {u: i for i, u in enumerate(users)}
        idx = [at[u] for u in current.column("user_id").to_pylist()]
        add[idx] += vectors(current, "vec")
        total[idx] += current.column("weight").to_numpy()
    table = vector_table(users, add.astype(np.float32), "user_id", "vec").append_column(
        "weight", [np.maximum(total, 0.0)])
    with registered(cur, "folded_taste", table):
        cur.execute("INSERT INTO feed_user_taste SELECT user_id, weight, vec::FLOAT[384] FROM folded_taste "
                    "ON CONFLICT (user_id) DO UPDATE SET weight = excluded.weight, vec = excluded.vec")
