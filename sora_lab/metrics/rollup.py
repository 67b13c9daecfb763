"""Per-user rollup of event sources, so a summary over 100 M events reads one row per user.

Why: the summary's cost was one GROUP BY user over every event (8 M groups at 100 M events). Sources
written in bulk — `sim:<scenario>`, always replaced whole by `simulate.write_events` — get their rollup
built in the same transaction; live events are folded in day by day (live.py). A summary over such
sources reads it and turns day bitmasks back into exactly the per-user facts the raw-event query
computes (first install/redeem/view/generate/cameo day in range, active days, region, inviter). A
summary that touches a source without a current rollup reads raw events, and so does a date range
that would split a user's invite redemptions (the rollup keeps only the first inviter).

Tables (schema migrations 6 and 7; live's fold state in 10):
- metric_user_keys(user_id, ukey): a dense integer per user id: merging users seen in several selected
  sources or regions, and finding an inviter's row, are then integer work in numpy.
- metric_sources(source, base_day, last_day, events): the rollups; bits count from base_day (UTC days
  since 1970-01-01). A simulated source spanning at most ROLLUP_DAYS days gets one; live gets one per
  ROLLUP_DAYS-day window of the calendar, named `live@<window>` (live.py).
- metric_users: one row per (rollup, region, user) with two 64-bit words per kind of day
  (definitions.KINDS): any event (all), active (act), install (ins), invite_redeemed (red), view (vw),
  generate (gen), cameo_created (cam); and the time and inviter key of the first invite redemption
  that names an inviter.
- metric_daily: events per (source, region, UTC day, type), and how many of them had no user.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sora_lab.metrics.definitions import COUNTED_TYPES, FLAGS, KINDS

ROLLUP_DAYS = 128  # two 64-bit words per kind
LIVE_PREFIX = "live@"  # live's rollups, one per ROLLUP_DAYS-day window: live@<UTC day // ROLLUP_DAYS>
MASK_COLUMNS = tuple(f"{k}{w}" for k in KINDS for w in (0, 1))
_EPOCH = date(1970, 1, 1)
_DAY_US = 86_400_000_000
_NO_TIME = np.iinfo(np.int64).max


def users_sql(relation: str) -> str:
    """metric_users rows from `relation` (source, ukey, ts, type, region, inviter). Migration 7's backfill
    runs a frozen copy of this text (sora_lab.store.schema); a test checks both build the same rows."""
    aggs = ",\n".join(
        f"bit_or(bit) FILTER (WHERE {pred} AND hi = {w}) AS {kind}{w}" for kind, pred in KINDS.items() for w in (0, 1)
    )
    return f"""
        SELECT source, region, ukey,
               min(us) FILTER (WHERE type = 'invite_redeemed' AND inviter IS NOT NULL) AS inviter_us,
               arg_min(inviter, us) FILTER (WHERE type = 'invite_redeemed' AND inviter IS NOT NULL) AS inviter,
               CAST(min(off) FILTER (WHERE type = 'install') AS SMALLINT) AS first_ins,
               CAST(min(off) FILTER (WHERE type = 'invite_redeemed') AS SMALLINT) AS first_red,
               CAST(bit_or(CASE type {" ".join(f"WHEN '{t}' THEN {bit}" for t, bit in FLAGS.items())} ELSE 0 END)
                    AS UTINYINT) AS flags,
               {aggs}
        FROM (
            SELECT *, CAST(1 AS UBIGINT) << CAST(off % 64 AS UBIGINT) AS bit, off // 64 AS hi
            FROM (
                SELECT r.source, r.region, r.ukey, r.type, r.inviter, epoch_us(r.ts) AS us,
                       CAST(r.ts AS DATE) - DATE '1970-01-01' - s.base_day AS off
                FROM {relation} r JOIN metric_sources s USING (source)
                WHERE r.ukey IS NOT NULL
            )
        )
        GROUP BY source, region, ukey
    """


def daily_sql(relation: str) -> str:
    """metric_daily rows from `relation`: every type, so first/last event day come from here too."""
    return f"""
        SELECT source, region, CAST(ts AS DATE) - DATE '1970-01-01' AS day, type,
               count(*) AS n, count(*) FILTER (WHERE ukey IS NULL) AS anonymous
        FROM {relation} GROUP BY ALL
    """


def drop_source(cur, source: str) -> None:
    """Forget a source's rollup (inside the caller's transaction)."""
    for table in ("metric_users", "metric_daily", "metric_sources"):
        cur.execute(f"DELETE FROM {table} WHERE source = ?", [source])


def _dictionary(column: pa.ChunkedArray) -> pa.DictionaryArray:
    array = column.combine_chunks()
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    return array


def _keys_for(cur, ids: pa.Array) -> np.ndarray:
    """Dense integer keys for these user ids (adding new ones to metric_user_keys), in the same order."""
    cur.register("rollup_ids", pa.table({"idx": pa.array(np.arange(len(ids), dtype=np.int64)),
                                         "user_id": ids.cast(pa.string())}))
    try:
        cur.execute(
            "INSERT INTO metric_user_keys SELECT user_id, "
            "(SELECT coalesce(max(ukey), -1) FROM metric_user_keys) + row_number() OVER () "
            "FROM (SELECT DISTINCT user_id FROM rollup_ids WHERE user_id IS NOT NULL "
            "AND user_id NOT IN (SELECT user_id FROM metric_user_keys))"
        )
        found = cur.execute(
            "SELECT i.idx, k.ukey FROM rollup_ids i JOIN metric_user_keys k USING (user_id)"
        ).fetchnumpy()
    finally:
        cur.unregister("rollup_ids")
    keys = np.full(len(ids), -1, dtype=np.int64)
    keys[np.asarray(found["idx"], dtype=np.int64)] = np.asarray(found["ukey"], dtype=np.int64)
    return keys


def build_source(cur, source: str, table: pa.Table) -> bool:
    """Build the rollup of one bulk-written source from the batch just stored as its events (same
    transaction). Returns False (and leaves the source on the raw path) if it spans too many days."""
    drop_source(cur, source)
    if table.num_rows == 0:
        return False
    ts = table["ts"].combine_chunks().cast(pa.timestamp("us")).cast(pa.int64()).to_numpy(zero_copy_only=False)
    days = ts // _DAY_US
    base, last = int(days.min()), int(days.max())
    if last - base >= ROLLUP_DAYS:
        return False
    users = _dictionary(table["user_id"])
    user_keys = _keys_for(cur, users.dictionary)
    targets = _dictionary(table["target_id"])
    target_keys = user_keys if targets.dictionary.equals(users.dictionary) else _keys_for(cur, targets.dictionary)
    is_redeem = pc.equal(table["type"].combine_chunks().cast(pa.string()), "invite_redeemed")
    inviter = pa.array(target_keys, pa.int64()).take(targets.indices)
    inviter = pc.if_else(is_redeem, inviter, pa.scalar(None, pa.int64()))
    batch = pa.table({
        "ukey": pa.array(user_keys, pa.int64()).take(users.indices),
        "ts": table["ts"],
        "type": table["type"],
        "region": table["region"],
        "inviter": inviter,
    })
    cur.execute("INSERT INTO metric_sources VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
                [source, base, last, table.num_rows])
    cur.register("rollup_batch", batch)
    try:
        relation = ("(SELECT ?::VARCHAR AS source, ukey, ts, CAST(type AS VARCHAR) AS type, "
                    "CAST(region AS VARCHAR) AS region, inviter FROM rollup_batch)")
        cur.execute(f"INSERT INTO metric_daily {daily_sql(relation)}", [source])
        cur.execute(f"INSERT INTO metric_users {users_sql(relation)}", [source])
    finally:
        cur.unregister("rollup_batch")
    return True


# --- reads --------------------------------------------------------------------------------


def covered(cur, sources: tuple[str, ...]) -> dict | None:
    """{rollup: (base_day, last_day, events)} covering every source, or None if some source has no current
    rollup. A simulated source's event count is the guard against writes that bypassed write_events (a
    direct INSERT or DELETE): such a source is read from raw events until it is written again. One
    `source = ?` count per source: DuckDB answers it from row-group statistics (ms at 100 M rows).
    Live is covered by its windows as of the last fold (`live.fold`, which the service runs first)."""
    info = {}
    for source in sources:
        if source == "live":
            windows = cur.execute(
                "SELECT source, base_day, last_day, events FROM metric_sources WHERE starts_with(source, ?)",
                [LIVE_PREFIX],
            ).fetchall()
            folded = cur.execute("SELECT count(*) FROM metric_live_days").fetchone()[0]
            if not folded and cur.execute("SELECT count(*) FROM events WHERE source = 'live'").fetchone()[0]:
                return None  # never folded
            info |= {s: (b, last, n) for s, b, last, n in windows}
            continue
        row = cur.execute("SELECT base_day, last_day, events FROM metric_sources WHERE source = ?", [source]).fetchone()
        if row is None or cur.execute("SELECT count(*) FROM events WHERE source = ?", [source]).fetchone()[0] != row[2]:
            return None
        info[source] = row
    return info


def _region_clause(regions: tuple[str, ...]) -> tuple[str, list]:
    if not regions:
        return "", []
    return " AND region IN (SELECT unnest(?::VARCHAR[]))", [list(regions)]


def day_span(cur, sources: tuple[str, ...], regions: tuple[str, ...]) -> tuple[date, date] | None:
    """First and last UTC day with a matching event, from metric_daily."""
    clause, params = _region_clause(regions)
    first, last = cur.execute(
        f"SELECT min(day), max(day) FROM metric_daily WHERE source IN (SELECT unnest(?::VARCHAR[])){clause}",
        [list(sources), *params],
    ).fetchone()
    if first is None:
        return None
    return _EPOCH + timedelta(days=int(first)), _EPOCH + timedelta(days=int(last))


def daily_rows(cur, sources, regions, start: date, end: date) -> list[tuple]:
    """(day offset, type, events, anonymous) for the four counted types — the raw path's daily scan."""
    clause, params = _region_clause(regions)
    s, e = (start - _EPOCH).days, (end - _EPOCH).days
    return cur.execute(
        f"""SELECT CAST(day - ? AS BIGINT) AS off, type, CAST(sum(n) AS BIGINT), CAST(sum(anonymous) AS BIGINT)
            FROM metric_daily
            WHERE source IN (SELECT unnest(?::VARCHAR[])) AND day BETWEEN ? AND ?{clause}
              AND type IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY ALL""",
        [s, list(sources), s, e, *params, list(COUNTED_TYPES)],
    ).fetchall()


def _realign(words: list[np.ndarray], shift: int, blocks: int, ndays: int) -> np.ndarray:
    """Bit i of the result = bit i + shift of the stored words, for i < ndays, as (n, blocks) uint64."""
    n = len(words[0])
    zero = np.zeros(n, dtype=np.uint64)
    out = np.zeros((n, blocks), dtype=np.uint64)
    for j in range(blocks):
        q, r = divmod(64 * j + shift, 64)
        lo = words[q] if 0 <= q < len(words) else zero
        if r == 0:
            out[:, j] = lo
        else:
            hi = words[q + 1] if 0 <= q + 1 < len(words) else zero
            out[:, j] = (lo >> np.uint64(r)) | (hi << np.uint64(64 - r))
    tail = ndays - 64 * (blocks - 1)
    if tail < 64:
        out[:, blocks - 1] &= np.uint64((1 << tail) - 1)
    return out


def first_bit(masks: np.ndarray) -> np.ndarray:
    """Lowest set bit of each row of an (n, blocks) uint64 matrix; -1 where none is set."""
    out = np.full(masks.shape[0], -1, dtype=np.int64)
    for b in reversed(range(masks.shape[1])):
        word = masks[:, b]
        nz = word != 0
        low = word[nz] & (~word[nz] + np.uint64(1))
        out[nz] = 64 * b + np.log2(low.astype(np.float64)).astype(np.int64)
    return out


def _region_code(region: str | None) -> int:
    if region is None:
        return -1
    return ord(region[0]) * 256 + ord(region[1]) if len(region) == 2 else -2


def load_users(cur, filters, info: dict, start: date, ndays: int, whole: bool) -> dict | None:
    """The per-user columns `summary.summarize` takes, from metric_users; None when the range splits
    some user's invite redemptions (then only raw events can say which inviter came first in range).

    `whole`: the range holds every selected event, so the stored first-install/redeem days and flags
    are the in-range ones and only the active-day bits are read (the 100 M-event summary's path)."""
    region_rows = cur.execute(
        "SELECT DISTINCT region FROM metric_daily WHERE source IN (SELECT unnest(?::VARCHAR[]))",
        [list(filters.sources)],
    ).fetchall()
    regions = sorted(r[0] for r in region_rows if r[0] is not None)  # rank order = string order; NULL last
    parts = []
    for source, (base, last, _) in info.items():
        part = _load_source(cur, source, base, last, filters.regions, regions, start, ndays, whole)
        if part is None:
            return None
        parts.append(part)
    def column(name: str) -> np.ndarray:
        return np.concatenate([p[name] for p in parts]) if len(parts) > 1 else parts[0][name]

    ukey, inviter, act = column("ukey"), column("inviter"), column("act")
    install_off, redeem_off, flags, rank = column("install_off"), column("redeem_off"), column("flags"), column("rank")
    if len(ukey) and np.bincount(ukey).max() > 1:  # a user in several selected sources or regions
        ukey, rows = _merge_duplicates(ukey, column("inviter_us"), {
            "act": (act, np.bitwise_or), "flags": (flags, np.bitwise_or), "rank": (rank, np.minimum),
            "install_off": (_none_last(install_off), np.minimum), "redeem_off": (_none_last(redeem_off), np.minimum),
            "inviter": (inviter, None),
        })
        install_off, redeem_off = _none_back(rows["install_off"]), _none_back(rows["redeem_off"])
        inviter, flags, act, rank = rows["inviter"], rows["flags"], rows["act"], rows["rank"]

    n = len(ukey)
    size = int(max(ukey.max(initial=-1), inviter.max(initial=-1))) + 1
    members = np.nonzero(redeem_off >= 0)[0]
    position = np.full(size, -1, dtype=np.int32 if n < 2**31 else np.int64)  # half the bytes to gather from
    position[ukey[members]] = members
    parent = np.where(inviter >= 0, position[np.maximum(inviter, 0)], -1)
    codes = np.array([_region_code(r) for r in regions] + [-1, -1], dtype=np.int64)
    users = {
        "idx": np.arange(n),
        "install_off": install_off,
        "redeem_off": redeem_off,
        "view_off": np.where(flags & 1, np.int8(0), np.int8(-1)),  # the roll-up only asks whether these
        "gen_off": np.where(flags & 2, np.int8(0), np.int8(-1)),  # happened in range
        "cameo_off": np.where(flags & 4, np.int8(0), np.int8(-1)),
        "parent": parent,
        "region_code": codes[rank],
    }
    for b in range(act.shape[1]):
        users[f"m{b}"] = np.ascontiguousarray(act[:, b])
    return users


def _load_source(cur, source: str, base: int, last: int, region_filter: tuple[str, ...], regions: list[str],
                 start: date, ndays: int, whole: bool) -> dict | None:
    """One source's rows with day offsets from the range start (one query per source: `source = ?` lets
    DuckDB skip the other sources' row groups); None if the range splits a user's redemptions."""
    words = 2 if last - base >= 64 else 1
    kinds = ("act",) if whole else tuple(KINDS)
    masks_sql = ", ".join(f"coalesce({k}{w}, 0::UBIGINT) AS {k}{w}" for k in kinds for w in range(words))
    clause, params = _region_clause(region_filter)
    table = cur.sql(
        f"""SELECT CAST(coalesce(list_position(?::VARCHAR[], region) - 1, {len(regions)}) AS SMALLINT) AS rank,
                   ukey, coalesce(inviter, -1) AS inviter, coalesce(inviter_us, {_NO_TIME}) AS inviter_us,
                   coalesce(first_ins, -1) AS first_ins, coalesce(first_red, -1) AS first_red,
                   coalesce(flags, 0) AS flags, {masks_sql}
            FROM metric_users WHERE source = ?{clause}""",
        params=[regions, source, *params],
    ).to_arrow_table()  # measured ~2x faster than fetchnumpy for these columns
    cols = {name: table[name].to_numpy() for name in table.column_names}  # no NULLs: every column is coalesced
    blocks = (ndays + 63) // 64
    shift = (start - _EPOCH).days - base  # stored day offsets -> offsets from the range start
    masks = {kind: _realign([cols[f"{kind}{w}"] for w in range(words)], shift, blocks, ndays) for kind in kinds}
    ukey = cols["ukey"].astype(np.int64, copy=False)
    inviter = cols["inviter"].astype(np.int64, copy=False)
    inviter_us = cols["inviter_us"]
    rank = cols["rank"]
    if whole:  # int16 day offsets: the range is at most 400 days
        install_off = np.where(cols["first_ins"] >= 0, cols["first_ins"] - np.int16(shift), np.int16(-1))
        redeem_off = np.where(cols["first_red"] >= 0, cols["first_red"] - np.int16(shift), np.int16(-1))
        flags = cols["flags"]
    else:
        stored_red = sum(np.bitwise_count(cols[f"red{w}"]).astype(np.int64) for w in range(words))
        red_in = np.bitwise_count(masks["red"]).sum(axis=1, dtype=np.int64)
        if ((red_in > 0) & (red_in < stored_red)).any():
            return None
        keep = (masks["all"] != 0).any(axis=1)  # users with an event in range (the raw GROUP BY's rows)
        ukey, inviter, inviter_us, rank = ukey[keep], inviter[keep], inviter_us[keep], rank[keep]
        masks = {kind: m[keep] for kind, m in masks.items()}
        install_off, redeem_off = first_bit(masks["ins"]), first_bit(masks["red"])
        flags = ((masks["vw"] != 0).any(axis=1) * 1 + (masks["gen"] != 0).any(axis=1) * 2
                 + (masks["cam"] != 0).any(axis=1) * 4)
        has_redeem = redeem_off >= 0
        inviter = np.where(has_redeem, inviter, -1)
        inviter_us = np.where(has_redeem & (inviter >= 0), inviter_us, _NO_TIME)
    rank = np.where(install_off >= 0, rank, np.int16(len(regions) + 1))  # region: the smallest of its install rows
    return {"ukey": ukey, "inviter": inviter, "inviter_us": inviter_us, "rank": rank, "install_off": install_off,
            "redeem_off": redeem_off, "flags": flags, "act": masks["act"]}


def _none_last(offsets: np.ndarray) -> np.ndarray:
    return np.where(offsets >= 0, offsets.astype(np.int64), _NO_TIME)


def _none_back(offsets: np.ndarray) -> np.ndarray:
    return np.where(offsets == _NO_TIME, -1, offsets)


def _merge_duplicates(ukey: np.ndarray, inviter_us: np.ndarray, columns: dict) -> tuple[np.ndarray, dict]:
    """One row per user: a user seen in several selected sources or regions has its rows reduced with
    each column's ufunc; a column without one (the inviter) comes from the earliest redemption naming one."""
    plain = {name: values for name, (values, _) in columns.items()}
    if not len(ukey):
        return ukey, plain
    dup = np.bincount(ukey)[ukey] > 1
    if not dup.any():
        return ukey, plain
    single, rows = np.nonzero(~dup)[0], np.nonzero(dup)[0]
    order = rows[np.lexsort((inviter_us[rows], ukey[rows]))]
    keys, first = np.unique(ukey[order], return_index=True)
    merged = {}
    for name, (values, op) in columns.items():
        part = values[order][first] if op is None else op.reduceat(values[order], first, axis=0)
        merged[name] = np.concatenate([values[single], part])
    return np.concatenate([ukey[single], keys]), merged
