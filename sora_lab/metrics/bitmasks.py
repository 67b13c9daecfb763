"""Per-user day bitmasks and the small numpy helpers every metric roll-up shares.

A user's active days in the range are bits of uint64 words, one word per 64 days
(bit d of word b = active on day 64 b + d), as an (n_users, blocks) matrix. Windows
(WAU, MAU) and cohort retention are shifts, ORs and per-bit counts over that matrix.
"""

from __future__ import annotations

import numpy as np


def offsets(values) -> np.ndarray:
    """A nullable integer column with -1 for NULL; integer columns keep their (often narrower) type,
    which saves a copy per column at millions of users."""
    if isinstance(values, np.ma.MaskedArray):
        return values.filled(-1).astype(np.int64)
    values = np.asarray(values)
    return values if np.issubdtype(values.dtype, np.integer) else values.astype(np.int64)


def mask_matrix(users: dict, blocks: int) -> np.ndarray:
    """The per-user columns m0, m1, ... as one (n_users, blocks) uint64 matrix (NULL = no active day)."""
    if blocks == 1 and not isinstance(users["m0"], np.ma.MaskedArray):
        return np.asarray(users["m0"], dtype=np.uint64).reshape(-1, 1)  # a view, no copy
    columns = []
    for b in range(blocks):
        col = users[f"m{b}"]
        if isinstance(col, np.ma.MaskedArray):
            col = col.filled(0)
        columns.append(np.asarray(col, dtype=np.uint64))
    return np.stack(columns, axis=1) if columns else np.zeros((0, 0), dtype=np.uint64)


_BYTE_BITS = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(np.int64)  # (256, 8)


def bit_counts(words: np.ndarray, nbits: int = 64) -> np.ndarray:
    """How many of the words have bit k set, k < nbits: one bincount per byte instead of one pass per bit."""
    words = np.ascontiguousarray(words, dtype=np.uint64)
    if not np.little_endian:
        words = words.byteswap()
    as_bytes = words.view(np.uint8).reshape(-1, 8)
    counts = np.zeros(64, dtype=np.int64)
    for j in range((nbits + 7) // 8):
        counts[8 * j:8 * j + 8] = np.bincount(as_bytes[:, j], minlength=256) @ _BYTE_BITS
    return counts[:nbits]


def _shift_up(masks: np.ndarray, step: int) -> np.ndarray:
    """Day bits moved `step` (< 64) days later across the blocks of an (n, blocks) matrix."""
    out = masks << np.uint64(step)
    out[:, 1:] |= masks[:, :-1] >> np.uint64(64 - step)
    return out


def window_counts(masks: np.ndarray, ndays: int, width: int) -> np.ndarray:
    """Distinct users active in [D-width+1, D] for every day D: bit D of OR(mask << j, j < width),
    built by doubling (log2(width) shifts), then counted per bit. `masks`: the active users' rows."""
    spread = masks
    covered = 1
    while covered < width:
        step = min(covered, width - covered)
        spread = spread | _shift_up(spread, step)
        covered += step
    counts = np.concatenate([bit_counts(spread[:, b]) for b in range(masks.shape[1])])
    return counts[:ndays]


def window_at(masks: np.ndarray, day: int) -> np.ndarray:
    """Each row's 64 day bits starting at `day` (bit k = active on day + k)."""
    q, r = divmod(day, 64)
    out = masks[:, q] >> np.uint64(r)
    if r and q + 1 < masks.shape[1]:
        out = out | (masks[:, q + 1] << np.uint64(64 - r))
    return out


def ratio(num, den) -> float | None:
    """num / den to 4 places; None when there is nothing to divide by."""
    return round(float(num) / float(den), 4) if den else None
