"""Recompute the feed aggregates from scratch: the check on (and repair of) the incremental path.

`sora_lab.feed.stats` keeps `feed_video_stats` and `feed_user_taste` up to date
by folding queued signals; after a bulk import of events (the benchmark, a simulation)
or to verify those counters, this recomputes both with a few set-based queries.
"""

from __future__ import annotations

import numpy as np

from sora_lab.feed.index import WATCH_THROUGH, arrow, vector_table, vectors
from sora_lab.feed.stats import TASTE_WEIGHTS
from sora_lab.store.db import Store, registered


def rebuild_feed_tables(store: Store, *, source: str = "live") -> dict:
    """Counts come from events with this `source`; likes from the likes table; remixes from videos."""
    with store.write() as cur:
        cur.execute(
            f"""
            UPDATE feed_video_stats SET views = coalesce(e.views, 0), watch_throughs = coalesce(e.wt, 0),
                   shares = coalesce(e.shares, 0), comments = coalesce(e.comments, 0),
                   likes = coalesce(l.n, 0), remixes = coalesce(r.n, 0)
            FROM feed_video_stats s
            LEFT JOIN (
                SELECT ev.video_id,
                       count(*) FILTER (WHERE ev.type = 'view') AS views,
                       count(*) FILTER (WHERE ev.type = 'view' AND ev.watch_ms >= {WATCH_THROUGH} * st.duration_ms)
                           AS wt,
                       count(*) FILTER (WHERE ev.type = 'share') AS shares,
                       count(*) FILTER (WHERE ev.type = 'comment') AS comments
                FROM events ev JOIN feed_video_stats st ON st.video_id = ev.video_id
                WHERE ev.source = ? AND ev.type IN ('view', 'share', 'comment')
                GROUP BY ev.video_id) e ON e.video_id = s.video_id
            LEFT JOIN (SELECT video_id, count(*) AS n FROM likes GROUP BY video_id) l ON l.video_id = s.video_id
            LEFT JOIN (SELECT parent_id, count(*) AS n FROM videos WHERE status = 'published' AND parent_id IS NOT NULL
                       GROUP BY parent_id) r ON r.parent_id = s.video_id
            WHERE feed_video_stats.video_id = s.video_id
            """,
            [source],
        )
        cur.execute("DELETE FROM feed_pending")  # their events are counted above
        cur.execute("DELETE FROM feed_like_keys")
        cur.execute("INSERT INTO feed_like_keys SELECT user_id || ':' || video_id FROM likes")
        users = rebuild_taste(cur, source)
        videos = cur.execute("SELECT count(*) FROM feed_video_stats").fetchone()[0]
    return {"videos": videos, "users_with_taste": users}


def rebuild_taste(cur, source: str) -> int:
    """Taste = sum over (user, prompt) of signal weight x prompt vector, computed as one sparse product."""
    signals = arrow(
        cur,
        f"""
        WITH sig AS (
            SELECT ev.user_id, st.prompt_key,
                   sum(CASE WHEN ev.type = 'share' THEN {TASTE_WEIGHTS['share']}
                            ELSE {TASTE_WEIGHTS['watch_through']} END) AS w
            FROM events ev JOIN feed_video_stats st ON st.video_id = ev.video_id
            WHERE ev.source = ? AND ev.user_id IS NOT NULL
              AND (ev.type = 'share' OR (ev.type = 'view' AND ev.watch_ms >= {WATCH_THROUGH} * st.duration_ms))
            GROUP BY ALL
            UNION ALL
            SELECT l.user_id, st.prompt_key, {TASTE_WEIGHTS['like']} AS w
            FROM likes l JOIN feed_video_stats st ON st.video_id = l.video_id
        )
        SELECT user_id, prompt_key, sum(w) AS w FROM sig GROUP BY ALL
        """,
        [source],
    )
    emb = arrow(cur, "SELECT prompt_key, embedding FROM feed_prompt_embeddings")
    cur.execute("DELETE FROM feed_user_taste")
    if signals.num_rows == 0 or emb.num_rows == 0:
        return 0
    key_row = {k: i for i, k in enumerate(emb.column("prompt_key").to_pylist())}
    matrix = vectors(emb, "embedding")
    users = signals.column("user_id").to_numpy(zero_copy_only=False)
    keys = signals.column("prompt_key").to_pylist()
    weights = signals.column("w").to_numpy().astype(np.float64)
    rows = np.array([key_row.get(k, -1) for k in keys])
    keep = rows >= 0
    user_ids, user_idx = np.unique(users[keep], return_inverse=True)
    # (users x prompts) sparse weights @ (prompts x 384) vectors; scipy ships with sentence-transformers.
    from scipy.sparse import csr_matrix

    sparse = csr_matrix((weights[keep], (user_idx, rows[keep])), shape=(len(user_ids), len(matrix)))
    taste = np.asarray(sparse @ matrix, np.float32)
    total = np.bincount(user_idx, weights=weights[keep], minlength=len(user_ids))
    table = vector_table([str(u) for u in user_ids], taste, "user_id", "vec")
    table = table.append_column("weight", [total.astype(np.float64)])
    with registered(cur, "rebuilt_taste", table):
        cur.execute("INSERT INTO feed_user_taste SELECT user_id, weight, vec::FLOAT[384] FROM rebuilt_taste")
    return len(user_ids)
