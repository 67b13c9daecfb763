"""Feed bookkeeping that ranking reads: per-video aggregates and prompt embeddings.

`VideoSync` copies newly published videos into `feed_video_stats` (and counts
remixes on their parents); `ensure_embeddings` embeds each distinct prompt once
(MiniLM) into `feed_prompt_embeddings`; `EmbeddingIndex` keeps those vectors in
memory as one matrix so similarity against taste or a steer text is one matmul.
"""

from __future__ import annotations

import threading
import warnings
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from sora_lab.core.embeddings import EMBEDDING_DIM
from sora_lab.store.db import Store, registered

WATCH_THROUGH = 0.9  # a view that covers >= 90% of the clip counts as watched through
SYNC_SLACK = timedelta(minutes=10)  # rows committed a little after their publish time are still picked up


def arrow(cur, query: str, params: list | None = None) -> pa.Table:
    """A query result as an Arrow table (vector columns come back as fixed-size lists)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return cur.execute(query, params or []).to_arrow_table()


def vectors(table: pa.Table, column: str) -> np.ndarray:
    """A FLOAT[384] column as an (n, 384) float32 matrix."""
    if table.num_rows == 0:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    col = table.column(column).combine_chunks()
    return col.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, EMBEDDING_DIM)


def vector_table(keys: list[str], matrix: np.ndarray, key_name: str = "k", vec_name: str = "v") -> pa.Table:
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel())
    return pa.table({key_name: keys, vec_name: pa.FixedSizeListArray.from_arrays(flat, EMBEDDING_DIM)})


class VideoSync:
    """Mirror newly published videos into feed_video_stats; cheap when nothing is new."""

    def __init__(self, store: Store):
        self.store = store
        self._watermark: datetime | None = None  # newest published_at already mirrored
        self._lock = threading.Lock()

    def sync(self) -> dict[str, str]:
        """Returns {prompt_key: prompt} of the videos added (their embeddings may be missing)."""
        with self._lock, self.store.write() as cur:
            since = (self._watermark - SYNC_SLACK) if self._watermark else datetime(1970, 1, 1)
            rows = insert_stats_rows(
                cur,
                "v.status = 'published' AND coalesce(v.published_at, v.created_at) >= ? "
                "AND NOT EXISTS (SELECT 1 FROM feed_video_stats s WHERE s.video_id = v.video_id)",
                [since],
            )
            prompts = dict(
                cur.execute(
                    "SELECT left(sha256(prompt), 16), prompt FROM videos WHERE video_id IN (SELECT unnest(?))",
                    [[r[0] for r in rows]],
                ).fetchall()
            ) if rows else {}
            newest = max((r[2] for r in rows), default=None)
            if self._watermark is None:
                newest = cur.execute("SELECT max(published_at) FROM feed_video_stats").fetchone()[0] or newest
            if newest is not None and (self._watermark is None or newest > self._watermark):
                self._watermark = newest
        return prompts


def insert_stats_rows(cur, where: str, params: list) -> list[tuple]:
    """Inside a write: add stats rows for the videos `v` matching `where`, and count them as remixes
    of their parents. Returns (video_id, parent_id, published_at) of the rows added."""
    rows = cur.execute(
        f"""
        INSERT OR IGNORE INTO feed_video_stats (video_id, author_id, prompt_key, parent_id, duration_ms,
                                                published_at)
        SELECT v.video_id, v.author_id, left(sha256(v.prompt), 16), v.parent_id, v.duration_ms,
               coalesce(v.published_at, v.created_at)
        FROM videos v WHERE {where}
        RETURNING video_id, parent_id, published_at
        """,
        params,
    ).fetchall()
    parents: dict[str, int] = {}
    for _, parent, _ in rows:
        if parent:
            parents[parent] = parents.get(parent, 0) + 1
    if parents:
        cur.execute(
            "UPDATE feed_video_stats SET remixes = remixes + d.n "
            "FROM (SELECT unnest(?) AS vid, unnest(?) AS n) d WHERE feed_video_stats.video_id = d.vid",
            [list(parents), list(parents.values())],
        )
    return rows


def ensure_stats_rows(cur, video_ids: list[str]) -> None:
    """Inside a write: give these published videos a stats row (engagement can come before any feed read)."""
    insert_stats_rows(cur, "v.video_id IN (SELECT unnest(?)) AND v.status = 'published'", [video_ids])


def ensure_embeddings(store: Store, prompts: dict[str, str] | None = None) -> int:
    """Embed prompts ({prompt_key: text}) that have no cached vector; `None` checks every video.

    Returns how many were embedded.

    The model runs outside the write lock so likes are not held up by it.
    """
    with store.read() as cur:
        if prompts is None:
            missing = cur.execute(
                "SELECT s.prompt_key, any_value(v.prompt) FROM feed_video_stats s JOIN videos v USING (video_id) "
                "WHERE s.prompt_key NOT IN (SELECT prompt_key FROM feed_prompt_embeddings) GROUP BY s.prompt_key"
            ).fetchall()
        elif prompts:
            known = {
                r[0]
                for r in cur.execute(
                    "SELECT prompt_key FROM feed_prompt_embeddings WHERE prompt_key IN (SELECT unnest(?))",
                    [list(prompts)],
                ).fetchall()
            }
            missing = [(k, p) for k, p in prompts.items() if k not in known]
        else:
            missing = []
    missing = [(k, p) for k, p in missing if p is not None]
    if not missing:
        return 0
    from sora_lab.core.embeddings import embed

    matrix = embed([p for _, p in missing])
    table = vector_table([k for k, _ in missing], matrix)
    with store.write() as cur, registered(cur, "new_prompt_vectors", table):
        cur.execute("INSERT OR IGNORE INTO feed_prompt_embeddings SELECT k, v::FLOAT[384] FROM new_prompt_vectors")
    return len(missing)


class EmbeddingIndex:
    """All cached prompt vectors as one in-memory matrix, reloaded when the table grows."""

    def __init__(self, store: Store):
        self.store = store
        self.keys: list[str] = []
        self.row: dict[str, int] = {}
        self.matrix = np.zeros((0, EMBEDDING_DIM), np.float32)
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._lock, self.store.read() as cur:
            count = cur.execute("SELECT count(*) FROM feed_prompt_embeddings").fetchone()[0]
            if count == len(self.keys):
                return
            table = arrow(cur, "SELECT prompt_key, embedding FROM feed_prompt_embeddings")
        keys = table.column("prompt_key").to_pylist()
        self.matrix = vectors(table, "embedding")
        self.keys = keys
        self.row = {k: i for i, k in enumerate(keys)}

    def lookup(self, prompt_keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, found mask); rows of unknown keys are zero."""
        idx = np.array([self.row.get(k, -1) for k in prompt_keys], dtype=np.int64)
        found = idx >= 0
        out = np.zeros((len(prompt_keys), EMBEDDING_DIM), np.float32)
        if found.any():
            out[found] = self.matrix[idx[found]]
        return out, found

    def nearest(self, query: np.ndarray, k: int) -> list[str]:
        """Prompt keys whose vectors score highest against `query` (a unit vector or weighted sum)."""
        if not self.keys:
            return []
        scores = self.matrix @ query.astype(np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        return [self.keys[i] for i in top[np.argsort(-scores[top])]]
