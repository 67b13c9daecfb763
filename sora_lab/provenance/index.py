"""Finding stored PDQ hashes near a copy's hashes without scanning them all: multi-index hashing.

Each 256-bit hash is cut into 8 chunks of 32 bits, and each chunk position has a sorted table of
the stored chunks. Two hashes at most 7 bits apart agree exactly on at least one chunk
(pigeonhole); further apart they still share one often enough (at 12 bits, a window pair does
about 85 % of the time), and a copy brings dozens of windows. So the tables, searched by bisection,
name a few candidate hashes out of millions; only those are compared bit by bit, and `rows_of`
gives a candidate clip's hashes for a full comparison. Hashes added after the build sit in a short
tail that is compared directly until the next rebuild. (Norouzi, Punjani and Fleet, "Fast search
in Hamming space with multi-index hashing", CVPR 2012.)
"""

from __future__ import annotations

import numpy as np

CHUNKS = 8
_LOW = np.uint64(0xFFFFFFFF)


def _chunk(hashes: np.ndarray, j: int) -> np.ndarray:
    """Chunk j (0 = the most significant 32 bits) of each hash in (n, 4) uint64."""
    word = hashes[:, j // 2]
    return ((word >> np.uint64(32)) if j % 2 == 0 else (word & _LOW)).astype(np.uint32)


class HashIndex:
    """Stored hashes (n, 4) uint64, each owned by an integer (a clip's number); kept sorted by owner."""

    def __init__(self, hashes: np.ndarray, owners: np.ndarray):
        hashes = np.ascontiguousarray(hashes, np.uint64).reshape(-1, 4)
        owners = np.asarray(owners, np.int64)
        if len(owners) != len(hashes):
            raise ValueError("hashes and owners differ in length")
        by_owner = np.argsort(owners, kind="stable")
        self.hashes, self.owners = hashes[by_owner], owners[by_owner]
        self._tail_hashes = np.empty((0, 4), np.uint64)
        self._tail_owners = np.empty(0, np.int64)
        self._keys, self._order = [], []
        for j in range(CHUNKS):
            column = _chunk(self.hashes, j)
            order = np.argsort(column, kind="stable").astype(np.int32)
            self._keys.append(column[order])
            self._order.append(order)

    def __len__(self) -> int:
        return len(self.hashes) + len(self._tail_hashes)

    @property
    def tail(self) -> int:
        return len(self._tail_hashes)

    def add(self, hashes: np.ndarray, owners: np.ndarray) -> None:
        """Append hashes without rebuilding: they are compared one by one until the next build."""
        self._tail_hashes = np.concatenate([self._tail_hashes, np.asarray(hashes, np.uint64).reshape(-1, 4)])
        self._tail_owners = np.concatenate([self._tail_owners, np.asarray(owners, np.int64)])

    def near(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stored hashes within `radius` bits of a query and sharing a chunk with it (all tail hashes
        within `radius`): (query index, stored row, distance). Rows number the built hashes first,
        then the tail. Complete up to 7 bits.
        """
        queries = np.asarray(queries, np.uint64).reshape(-1, 4)
        found_query, found_rows = [], []
        for j in range(CHUNKS):
            wanted = _chunk(queries, j)
            low = np.searchsorted(self._keys[j], wanted, "left")
            count = np.searchsorted(self._keys[j], wanted, "right") - low
            first = np.cumsum(count) - count
            positions = np.arange(int(count.sum())) + np.repeat(low - first, count)
            found_query.append(np.repeat(np.arange(len(queries)), count))
            found_rows.append(self._order[j][positions].astype(np.int64))
        n = max(1, len(self.hashes))
        pairs = np.unique(np.concatenate(found_query) * n + np.concatenate(found_rows))  # each pair once
        query, rows = pairs // n, pairs % n
        distance = np.bitwise_count(self.hashes[rows] ^ queries[query]).sum(axis=1, dtype=np.int64)
        keep = distance <= radius
        query, rows, distance = query[keep], rows[keep], distance[keep]
        if self.tail:  # every query against every tail hash
            tail = np.bitwise_count(queries[:, None, :] ^ self._tail_hashes[None, :, :]).sum(axis=-1, dtype=np.int64)
            tail_query, tail_row = np.nonzero(tail <= radius)
            query = np.concatenate([query, tail_query])
            rows = np.concatenate([rows, len(self.hashes) + tail_row])
            distance = np.concatenate([distance, tail[tail_query, tail_row]])
        return query, rows, distance

    def owners_of(self, rows: np.ndarray) -> np.ndarray:
        main = rows < len(self.hashes)
        owners = np.empty(len(rows), np.int64)
        owners[main] = self.owners[rows[main]]
        owners[~main] = self._tail_owners[rows[~main] - len(self.hashes)]
        return owners

    def hashes_of(self, owner: int) -> np.ndarray:
        """Every stored hash of one owner, (k, 4): the clip's whole fingerprint."""
        start, end = np.searchsorted(self.owners, [owner, owner + 1])
        return np.concatenate([self.hashes[start:end], self._tail_hashes[self._tail_owners == owner]])
