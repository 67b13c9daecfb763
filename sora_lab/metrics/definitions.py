"""The growth metrics' definitions, as SQL in one place.

Every path reads them from here: the summary from raw events in the lab (`queries.compute_raw`),
the same summary over exported Parquet files (`parquet.summary`: the same SQL over a view of the
files named `events`), the per-user rollups of simulated and live events (`rollup`, `live`), and
the DAU query that docs/metrics.md runs in Spark SQL and ClickHouse (`dau_sql`).

- day: the UTC calendar day of `ts`.
- download: a user's first `install` event (plus every anonymous install, user_id NULL);
  later installs of the same user are reinstalls and do not count as downloads.
- active user on a day: ACTIVE_USER_DEFINITION.
- DAU / WAU / MAU on day D: distinct users active on D / in [D-6, D] / in [D-29, D].
- stickiness: DAU / MAU.
- retention Dk: share of the users whose first install fell on cohort day c who were active on day c+k;
  only cohorts with c+k inside the range count ("mature" cohorts).
"""

from __future__ import annotations

import re

ACTIVE_TYPES = ("session_start", "view", "like", "share", "remix", "comment", "generate")
ACTIVE_USER_DEFINITION = (
    "An active user on a UTC day is one with at least one session_start, view, like, share, remix, "
    "comment or generate event that day; installs and invites alone do not count."
)
ACTIVE = "type IN (" + ", ".join(f"'{t}'" for t in ACTIVE_TYPES) + ")"
COUNTED_TYPES = ("install", "generate", "invite_sent", "invite_redeemed")  # counted per day (totals, K-factor)
DAY_US = 86_400_000_000

# The kinds of day a rollup keeps per user (one bit per UTC day each), as predicates on `type`.
KINDS = {
    "all": "TRUE",
    "act": ACTIVE,
    "ins": "type = 'install'",
    "red": "type = 'invite_redeemed'",
    "vw": "type = 'view'",
    "gen": "type = 'generate'",
    "cam": "type = 'cameo_created'",
}
# The funnel steps past access, as bits of a user's `flags` (any such event in the range).
FLAGS = {"view": 1, "generate": 2, "cameo_created": 4}


def user_rows_sql(relation: str, where: str, blocks: int) -> str:
    """One row per user of `relation` (an events table or view) matching `where`: first install, first
    redemption (and its inviter), first view / generation / cameo, install region, and the active days as
    bits of `blocks` 64-bit words from the range start (parameters: range start in epoch µs, then `where`'s).

    Measured: every filtered aggregate costs about as much as the grouping itself, so there are only the
    ones the roll-ups need (region comes from install rows, the rarer type)."""
    masks = ",\n".join(
        f"bit_or(CAST(1 AS UBIGINT) << CAST(off % 64 AS UBIGINT)) FILTER (WHERE act AND off // 64 = {b}) AS m{b}"
        if blocks > 1
        else "bit_or(CAST(1 AS UBIGINT) << CAST(off AS UBIGINT)) FILTER (WHERE act) AS m0"
        for b in range(blocks)
    )
    return f"""
        WITH f AS (
            SELECT user_id, type, region, target_id, ts,
                   CAST((epoch_us(ts) - ?) // {DAY_US} AS BIGINT) AS off,
                   {ACTIVE} AS act
            FROM {relation} WHERE {where} AND user_id IS NOT NULL
        )
        SELECT user_id,
               min(off) FILTER (WHERE type = 'install') AS install_off,
               min(off) FILTER (WHERE type = 'invite_redeemed') AS redeem_off,
               arg_min(target_id, ts) FILTER (WHERE type = 'invite_redeemed') AS inviter,
               min(off) FILTER (WHERE type = 'view') AS view_off,
               min(off) FILTER (WHERE type = 'generate') AS gen_off,
               min(off) FILTER (WHERE type = 'cameo_created') AS cameo_off,
               min(region) FILTER (WHERE type = 'install') AS region,
               {masks}
        FROM f GROUP BY user_id
    """


def daily_counts_sql(relation: str, where: str) -> str:
    """(day offset, type, events, anonymous events) of the COUNTED_TYPES per UTC day (parameters as above)."""
    counted = ", ".join(f"'{t}'" for t in COUNTED_TYPES)
    return f"""
        SELECT CAST((epoch_us(ts) - ?) // {DAY_US} AS BIGINT) AS off, type,
               count(*) AS n, count(*) FILTER (WHERE user_id IS NULL) AS anonymous
        FROM {relation}
        WHERE {where} AND type IN ({counted})
        GROUP BY ALL
    """


def dau_sql(relation: str = "events", source: str = "live") -> str:
    """DAU per UTC day over exported events (hive column `day`), as DuckDB and Spark SQL both read it;
    ClickHouse keeps Hive's escapes in partition values, so there the filter is on
    decodeURLComponent(source) (docs/metrics.md)."""
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,60}", source):
        raise ValueError(f"source {source!r} is not a source name such as 'live' or 'sim:default'")
    return (f"SELECT day, count(DISTINCT user_id) AS dau FROM {relation} "
            f"WHERE source = '{source}' AND user_id IS NOT NULL AND {ACTIVE} GROUP BY day ORDER BY day")
