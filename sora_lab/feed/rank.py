"""Ranking one viewer's feed: candidates, hard filters, score, author diversity, reasons.

Candidates come from five pools (follows, remixes of liked videos, nearest
prompts to the viewer's taste or steer text, the freshest videos and the
global pool by recency + engagement). Hard filters (published, before the
session snapshot, visible to the viewer by the one rule of sora_lab.consent.visibility,
not already in this session) run in SQL; scoring runs in numpy over at most a few thousand
rows so every part is visible and explainable.

score = recency + engagement + taste + steer + follow + remix_of_liked
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from sora_lab.consent.visibility import visible_sql
from sora_lab.feed.index import EmbeddingIndex, arrow
from sora_lab.feed.steer import SteerTopic


@dataclass(frozen=True)
class RankWeights:
    """Weights of the score parts; units are 'score points'."""

    recency: float = 1.0
    half_life_hours: float = 24.0  # recency halves every day
    engagement: float = 0.8
    prior_views: float = 20.0  # pseudo-views at the lab-wide rates: a new video starts average, not buried
    taste: float = 1.5
    steer: float = 4.0
    steer_floor: float = 0.2  # cosine below this is 'unrelated' and moves nothing
    follow: float = 0.6
    remix_of_liked: float = 0.5
    pool_size: int = 600  # candidates per pool


WEIGHTS = RankWeights()


@dataclass(frozen=True)
class Priors:
    """Lab-wide rates per view: what a video with no views is assumed to do."""

    watch_through: float
    like: float
    share: float


def lab_priors(cur) -> Priors:
    views, wt, likes, shares = cur.execute(
        "SELECT coalesce(sum(views), 0), coalesce(sum(watch_throughs), 0), coalesce(sum(likes), 0), "
        "coalesce(sum(shares), 0) FROM feed_video_stats"
    ).fetchone()
    # Laplace-smoothed so an empty lab has sensible non-zero rates.
    return Priors((wt + 1) / (views + 2), (likes + 1) / (views + 10), (shares + 1) / (views + 50))


def base_score_sql(weights: RankWeights, priors: Priors) -> tuple[str, str]:
    """SQL for (recency part, engagement part) over feed_video_stats `s`; binds $snap (the ranking time)."""
    a = _num(weights.prior_views)
    wt, like, share = _num(priors.watch_through), _num(priors.like), _num(priors.share)
    recency = (
        f"{_num(weights.recency)} * exp(-ln(2) * epoch($snap::TIMESTAMP - s.published_at) / 3600.0"
        f" / {_num(weights.half_life_hours)})"
    )
    lift = (
        f"0.5 * ln((s.watch_throughs + {a} * {wt}) / (s.views + {a}) / {wt})"
        f" + 0.3 * ln((s.likes + {a} * {like}) / (s.views + {a}) / {like})"
        f" + 0.2 * ln((s.shares + {a} * {share}) / (s.views + {a}) / {share})"
        f" + 0.15 * ln(1 + s.remixes)"
    )
    return recency, f"{_num(weights.engagement)} * ({lift})"


def _num(x: float) -> str:
    """A float literal DuckDB reads as DOUBLE (plain literals become DECIMAL and can overflow)."""
    return f"{float(x)!r}::DOUBLE"


@dataclass
class Viewer:
    user_id: str
    taste: np.ndarray | None  # unit vector, or None before any watch-through or like
    topics: list[tuple[SteerTopic, np.ndarray]]


def rank_candidates(
    cur,
    index: EmbeddingIndex,
    viewer: Viewer,
    *,
    session_no: int,
    snapshot_at: datetime,
    weights: RankWeights = WEIGHTS,
    limit: int = 200,
) -> list[dict]:
    """The next `limit` videos for this session, best first, each with score parts and reasons."""
    priors = lab_priors(cur)
    recency_sql, engagement_sql = base_score_sql(weights, priors)
    pool = weights.pool_size
    query_vec = _similarity_query(viewer)
    near_keys = index.nearest(query_vec, pool) if query_vec is not None else []
    pools = f"""
        (SELECT video_id, 'follow' AS pool FROM feed_video_stats
         WHERE author_id IN (SELECT followee_id FROM follows WHERE follower_id = $viewer)
           AND published_at <= $snap ORDER BY published_at DESC LIMIT {pool})
        UNION ALL
        (SELECT video_id, 'remix_of_liked' FROM feed_video_stats
         WHERE parent_id IN (SELECT video_id FROM likes WHERE user_id = $viewer)
           AND published_at <= $snap ORDER BY published_at DESC LIMIT {pool})
        UNION ALL
        (SELECT video_id, 'similar' FROM feed_video_stats
         WHERE prompt_key IN (SELECT unnest($near)) AND published_at <= $snap
         ORDER BY published_at DESC LIMIT {pool})
        UNION ALL
        (SELECT video_id, 'fresh' FROM feed_video_stats WHERE published_at <= $snap
         ORDER BY published_at DESC LIMIT {pool // 2})
        UNION ALL
        (SELECT video_id, 'global' FROM feed_video_stats s WHERE published_at <= $snap
         ORDER BY {recency_sql} + {engagement_sql} DESC LIMIT {pool})
    """
    table = arrow(
        cur,
        f"""
        WITH cand AS (SELECT video_id, list(DISTINCT pool) AS pools FROM ({pools}) GROUP BY video_id)
        SELECT s.video_id, s.author_id, u.handle, s.prompt_key, v.prompt, s.published_at, s.views,
               v.duration_ms, v.width, v.height, v.media_path, v.poster_path, v.parent_id,
               s.watch_throughs, s.likes, s.shares, s.remixes,
               {recency_sql} AS recency, {engagement_sql} AS engagement,
               list_contains(cand.pools, 'follow') AS followed,
               list_contains(cand.pools, 'remix_of_liked') AS remix_of_liked
        FROM cand
        JOIN feed_video_stats s ON s.video_id = cand.video_id
        JOIN videos v ON v.video_id = cand.video_id
        JOIN users u ON u.user_id = s.author_id
        WHERE v.status = 'published' AND {visible_sql('v', '$viewer')}
          AND NOT EXISTS (SELECT 1 FROM feed_session_items i
                          WHERE i.session_no = $session AND i.video_id = cand.video_id)
        """,
        {"viewer": viewer.user_id, "snap": snapshot_at, "near": near_keys, "session": session_no},
    )
    if table.num_rows == 0:
        return []
    rows = table.to_pylist()
    vecs, found = index.lookup([r["prompt_key"] for r in rows])
    taste = vecs @ viewer.taste if viewer.taste is not None else np.zeros(len(rows), np.float32)
    taste = np.where(found, taste, 0.0)
    steer_parts = np.zeros(len(rows), np.float32)
    steer_notes: list[list[str]] = [[] for _ in rows]
    for topic, vec in viewer.topics:
        sims = np.where(found, vecs @ vec, 0.0)
        moved = np.maximum(sims - weights.steer_floor, 0.0) / (1.0 - weights.steer_floor)
        steer_parts += topic.sign * weights.steer * moved
        for i in np.flatnonzero(moved > 0.05):
            word = "more" if topic.sign > 0 else "fewer"
            steer_notes[i].append(f"steer: {word} '{topic.text}' (similarity {sims[i]:.2f})")
    follow = np.array([bool(r["followed"]) for r in rows]) * weights.follow
    remix = np.array([bool(r["remix_of_liked"]) for r in rows]) * weights.remix_of_liked
    recency = table.column("recency").to_numpy(zero_copy_only=False).astype(np.float64)
    engagement = table.column("engagement").to_numpy(zero_copy_only=False).astype(np.float64)
    taste_part = weights.taste * taste.astype(np.float64)
    score = recency + engagement + taste_part + steer_parts + follow + remix
    order = sorted(range(len(rows)), key=lambda i: (-score[i], rows[i]["video_id"]))
    chosen = diversify([rows[i] | {"_i": i} for i in order])[:limit]
    for row in chosen:  # reasons only for what is kept
        i = row.pop("_i")
        parts = {
            "recency": float(recency[i]),
            "engagement": float(engagement[i]),
            "taste": float(taste_part[i]),
            "steer": float(steer_parts[i]),
            "follow": float(follow[i]),
            "remix_of_liked": float(remix[i]),
        }
        row["parts"] = {k: round(v, 4) for k, v in parts.items()}
        row["score"] = float(score[i])
        row["reasons"] = _reasons(row, parts, steer_notes[i], snapshot_at, viewer.taste is not None)
    return chosen


def _similarity_query(viewer: Viewer) -> np.ndarray | None:
    """What 'similar' candidates are fetched by: the 'more' topics, else the taste vector."""
    positive = [vec for topic, vec in viewer.topics if topic.sign > 0]
    if positive:
        return np.sum(positive, axis=0)
    return viewer.taste


def diversify(rows: list[dict]) -> list[dict]:
    """Reorder so no author appears twice in a row whenever that is possible.

    Greedy: take the best video by an author other than the previous one, unless
    one author holds so many of the remaining videos that skipping them now would
    force a repeat later (more than half of what is left): then take theirs.
    """
    remaining = list(rows)
    left = Counter(r["author_id"] for r in rows)
    heap = [(-c, a) for a, c in left.items()]  # largest share first; stale entries are skipped
    heapq.heapify(heap)
    out: list[dict] = []
    last = None
    while remaining:
        n = len(remaining)
        while heap and -heap[0][0] != left[heap[0][1]]:
            _, a = heapq.heappop(heap)
            if left[a] > 0:
                heapq.heappush(heap, (-left[a], a))
        # At most one author can hold more than half of what is left: the one on top of the heap.
        if heap and heap[0][1] != last and 2 * left[heap[0][1]] > n:
            pick = next(j for j, r in enumerate(remaining) if r["author_id"] == heap[0][1])
        else:
            pick = next((j for j, r in enumerate(remaining) if r["author_id"] != last), 0)
        row = remaining.pop(pick)
        left[row["author_id"]] -= 1
        out.append(row)
        last = row["author_id"]
    return out


def _reasons(row: dict, parts: dict, steer_notes: list[str], now: datetime, has_taste: bool) -> list[str]:
    """Plain-language reasons, strongest first, for the viewer and the teaching notebook."""
    reasons: list[tuple[float, str]] = []
    if row["followed"]:
        reasons.append((parts["follow"], f"from @{row['handle']}, whom you follow"))
    if row["remix_of_liked"]:
        reasons.append((parts["remix_of_liked"], "a remix of a video you liked"))
    for note in steer_notes:
        reasons.append((abs(parts["steer"]) + 1.0, note))
    if has_taste and parts["taste"] > 0.45:
        reasons.append((parts["taste"], f"close to clips you watched through (taste {parts['taste']:.2f})"))
    views = row["views"]
    if views < 5:
        seen = f"{views} view" if views == 1 else f"{views} views"
        reasons.append((0.1, f"new: only {seen} so far, ranked near the lab-wide average"))
    elif parts["engagement"] > 0.1:
        rate = row["watch_throughs"] / views
        reasons.append(
            (parts["engagement"], f"popular: {rate:.0%} watch-through, {row['likes']} likes, {row['remixes']} remixes")
        )
    hours = max((now - row["published_at"]).total_seconds() / 3600.0, 0.0)
    if hours < 24:
        age = f"{int(hours * 60)} min" if hours < 1 else f"{hours:.0f} h"
        reasons.append((parts["recency"], f"fresh: published {age} ago"))
    if not reasons:
        reasons.append((0.0, f"from the lab-wide pool (score {row['score']:.2f})"))
    reasons.sort(key=lambda r: -r[0])
    return [text for _, text in reasons]


def taste_unit(weight: float, vec: list[float] | np.ndarray | None) -> np.ndarray | None:
    """A stored taste sum as a unit vector, or None when there is too little to go on."""
    if vec is None or weight < 0.5:
        return None
    arr = np.asarray(vec, np.float32)
    norm = float(np.linalg.norm(arr))
    return arr / norm if norm > 1e-6 and math.isfinite(norm) else None
