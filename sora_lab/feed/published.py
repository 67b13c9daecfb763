"""Which videos are published, answered mostly from memory, for engagement batches.

A batch of 5000 views names hundreds of clips nobody in this process checked yet, and
DuckDB cannot probe its primary-key index for a whole list: the check scans the videos
table (~15 ms at a million videos, a quarter of the batch). So once a batch is big enough
to need that scan, the published ids are loaded once as a sorted array of their DuckDB
`hash()` values (8 bytes per video, ~0.2 s per million) and later batches look up their
ids' hashes there. Ids that miss (published after the snapshot, or never) are asked of the
database and remembered when found.

What that trades: a clip removed after the snapshot (or after its first check) still
accepts signals from viewers who had it loaded, and a random id whose 64-bit hash equals a
published one would pass (about one chance in 10^13 per id at a million videos). Neither
can show anything: every feed read drops clips that are not published.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sora_lab.feed.sql import id_list
from sora_lab.store.db import registered

SNAPSHOT_AT = 200  # unknown ids in one batch beyond which a scan, and so the snapshot, pays off
REMEMBER_MAX = 200_000  # ids found after the snapshot (~20 MB); forgotten all at once when full


class PublishedVideos:
    def __init__(self, snapshot_at: int = SNAPSHOT_AT):
        self.snapshot_at = snapshot_at
        self._hashes: np.ndarray | None = None  # sorted uint64
        self._remembered: set[str] = set()

    def missing(self, cur, video_ids: set[str]) -> list[str]:
        """The ids among `video_ids` that are not published videos, in sorted order."""
        unknown = sorted(video_ids - self._remembered)
        if not unknown:
            return []
        if self._hashes is None and len(unknown) > self.snapshot_at:
            self._hashes = np.sort(cur.execute(
                "SELECT hash(video_id) AS h FROM videos WHERE status = 'published'").fetchnumpy()["h"])
        if self._hashes is not None:
            unknown = self._not_in_snapshot(cur, unknown)
        found = self._ask(cur, unknown) if unknown else set()
        if len(self._remembered) + len(found) > REMEMBER_MAX:
            self._remembered.clear()
        self._remembered |= found
        return [v for v in unknown if v not in found]

    def _not_in_snapshot(self, cur, ids: list[str]) -> list[str]:
        with _as_view(cur, ids):
            hashes = cur.execute("SELECT hash(v) AS h FROM batch_video_ids").fetchnumpy()["h"]
        at = np.searchsorted(self._hashes, hashes).clip(max=len(self._hashes) - 1) if len(self._hashes) else None
        hit = self._hashes[at] == hashes if at is not None else np.zeros(len(ids), bool)
        return [v for v, h in zip(ids, hit, strict=True) if not h]

    @staticmethod
    def _ask(cur, ids: list[str]) -> set[str]:
        if len(ids) <= SNAPSHOT_AT:  # literals, and no other predicate: DuckDB probes the key index
            rows = cur.execute(f"SELECT video_id, status FROM videos WHERE video_id IN ({id_list(ids)})").fetchall()
        else:
            with _as_view(cur, ids):
                rows = cur.execute("SELECT video_id, status FROM videos "
                                   "WHERE video_id IN (SELECT v FROM batch_video_ids)").fetchall()
        return {r[0] for r in rows if r[1] == "published"}


def _as_view(cur, ids: list[str]):
    """The ids as the one-column SQL view `batch_video_ids(v)` for the block."""
    return registered(cur, "batch_video_ids", pa.table({"v": pa.array(ids, pa.string())}))
