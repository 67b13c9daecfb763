"""What the lab keeps to trace a copy back to its clip: each clip's watermark key and fingerprint.

Tables `video_marks` (one key per clip, unique) and `video_fingerprints` (one PDQ hash a second,
with an insertion sequence so an index can load only what is new). Rows are written in the same
transaction as the clip's `videos` row, and kept when a clip is deleted: a copy of a deleted clip
still traces to it (answered as no longer published).
"""

from __future__ import annotations

import secrets

import numpy as np

from sora_lab.provenance.fingerprint import Fingerprint
from sora_lab.provenance.invisible import KEY_BITS


def new_mark_key(store) -> int:
    """A random watermark key no stored clip uses (40 bits: a clash is rare, and re-drawn)."""
    with store.read() as cur:
        while True:
            key = secrets.randbits(KEY_BITS)
            if cur.execute("SELECT 1 FROM video_marks WHERE mark_key = ?", [key]).fetchone() is None:
                return key


def save(cur, video_id: str, mark_key: int, fingerprint: Fingerprint) -> None:
    """Store a new clip's key and hashes (inside the caller's write transaction)."""
    cur.execute("INSERT INTO video_marks (video_id, mark_key) VALUES (?, ?)", [video_id, mark_key])
    if len(fingerprint):
        rows = [
            [video_id, int(at), int(quality), *(int(word) for word in hashed)]
            for at, quality, hashed in zip(fingerprint.at_ms, fingerprint.qualities, fingerprint.hashes, strict=True)
        ]
        cur.executemany(
            "INSERT INTO video_fingerprints (video_id, at_ms, quality, h0, h1, h2, h3) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def forget(cur, video_id: str) -> None:
    """Undo `save` when the generation that wrote it fails at a later step."""
    cur.execute("DELETE FROM video_fingerprints WHERE video_id = ?", [video_id])
    cur.execute("DELETE FROM video_marks WHERE video_id = ?", [video_id])


def videos_for_keys(cur, keys: list[int]) -> dict[int, str]:
    """{key: video_id} for the keys some stored clip carries."""
    keys = [k for k in keys if isinstance(k, int) and 0 <= k < 1 << KEY_BITS]
    if not keys:
        return {}
    marks = ", ".join("?" * len(keys))
    rows = cur.execute(f"SELECT mark_key, video_id FROM video_marks WHERE mark_key IN ({marks})", keys).fetchall()
    return {int(key): video_id for key, video_id in rows}


def mark_key_of(cur, video_id: str) -> int | None:
    row = cur.execute("SELECT mark_key FROM video_marks WHERE video_id = ?", [video_id]).fetchone()
    return int(row[0]) if row else None


def fingerprints_after(cur, seq: int) -> tuple[int, list[str], np.ndarray]:
    """Hashes stored after insertion number `seq`: (last seq, video id per hash, (n, 4) uint64)."""
    table = cur.execute(
        "SELECT seq, video_id, h0, h1, h2, h3 FROM video_fingerprints WHERE seq > ? ORDER BY seq", [seq]
    ).fetchnumpy()
    if not len(table["seq"]):
        return seq, [], np.empty((0, 4), np.uint64)
    hashes = np.stack([np.asarray(table[c], np.uint64) for c in ("h0", "h1", "h2", "h3")], axis=1)
    return int(table["seq"][-1]), [str(v) for v in table["video_id"]], hashes
