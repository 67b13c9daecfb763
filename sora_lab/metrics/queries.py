"""The growth summary over the `events` table: from the rollup where one is current, else from raw events.

Two inputs do the heavy work: per-user rows (first install, access, funnel steps,
inviter, and a bitmask of the UTC days the user was active) and per-day counts by
type (installs, generations, invites). Everything else — DAU/WAU/MAU windows,
retention cohorts, invite-tree depth — is a numpy roll-up over the per-user rows
(summary.py, with retention.py, invites.py and the day bitmasks of bitmasks.py).

Where they come from: for sources with a rollup (simulated sources, see rollup.py; live events,
folded by live.py) from the rollup tables — about one row per user and per (day, type) instead of
every event; otherwise from two SQL scans of raw events (`compute_raw`, the SQL of definitions.py,
which also reads exported Parquet: parquet.py). Both give identical results; tests compare them.
The definitions themselves (active user, download, DAU/WAU/MAU, retention) are in definitions.py
and are returned with every result, so a dashboard can show them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from sora_lab.core.errors import InputError
from sora_lab.metrics import rollup
from sora_lab.metrics.definitions import (
    ACTIVE_TYPES,
    ACTIVE_USER_DEFINITION,
    daily_counts_sql,
    user_rows_sql,
)
from sora_lab.metrics.summary import summarize

__all__ = ["ACTIVE_TYPES", "ACTIVE_USER_DEFINITION", "Filters", "compute", "compute_raw", "make_filters", "series"]
SERIES = (
    "downloads",
    "cumulative_downloads",
    "reinstalls",
    "dau",
    "wau",
    "mau",
    "stickiness",
    "generations",
    "generations_per_dau",
)
MAX_RANGE_DAYS = 400
_EPOCH = datetime(1970, 1, 1)
_SOURCE_RE = re.compile(r"^(live|import|sim:[A-Za-z0-9_.-]{1,40})$")


@dataclass(frozen=True)
class Filters:
    """Which events count: their source, a UTC day range (inclusive) and regions."""

    sources: tuple[str, ...]
    start: date | None = None
    end: date | None = None
    regions: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "sources": list(self.sources),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "regions": list(self.regions),
        }


def make_filters(
    sources: list[str] | str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    regions: list[str] | str | None = None,
) -> Filters:
    """Validate filter arguments. No sources given means live events only — say so rather than guess."""
    if sources is None:
        sources = ["live"]
    if isinstance(sources, str):
        sources = [s for s in sources.split(",") if s.strip()]
    cleaned = []
    for source in sources:
        source = str(source).strip()
        if not _SOURCE_RE.match(source):
            raise InputError(
                f"sources: {source!r} is not a source; use 'live', 'import' or 'sim:<scenario>' (e.g. sim:default)"
            )
        cleaned.append(source)
    if not cleaned:
        raise InputError("sources: give at least one source, e.g. ['live'] or ['sim:default']")
    start_day = _parse_day(start, "start")
    end_day = _parse_day(end, "end")
    if start_day and end_day and end_day < start_day:
        raise InputError(f"end ({end_day}) is before start ({start_day}); swap them")
    if isinstance(regions, str):
        regions = [r for r in regions.split(",") if r.strip()]
    region_list = []
    for region in regions or []:
        region = str(region).strip().upper()
        if not (len(region) == 2 and region.isalpha()):
            raise InputError(f"regions: {region!r} is not a two-letter country code such as 'US'")
        region_list.append(region)
    return Filters(tuple(dict.fromkeys(cleaned)), start_day, end_day, tuple(dict.fromkeys(region_list)))


def _parse_day(value: str | date | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InputError(f"{field}: {value!r} is not a date; use YYYY-MM-DD (UTC)") from None


def _where(filters: Filters, start: date, end: date) -> tuple[str, list]:
    clauses = ["source IN (SELECT unnest(?::VARCHAR[]))", "ts >= ?", "ts < ?"]
    params: list = [list(filters.sources), datetime.combine(start, datetime.min.time()),
                    datetime.combine(end + timedelta(days=1), datetime.min.time())]
    if filters.regions:
        clauses.append("region IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(filters.regions))
    return " AND ".join(clauses), params


def day_range(cur, filters: Filters) -> tuple[date, date] | None:
    """The filter's days, or the first and last UTC day with a matching event; None if there is none."""
    if filters.start and filters.end:
        return filters.start, filters.end
    clauses = ["source IN (SELECT unnest(?::VARCHAR[]))"]
    params: list = [list(filters.sources)]
    if filters.regions:
        clauses.append("region IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(filters.regions))
    first, last = cur.execute(f"SELECT min(ts), max(ts) FROM events WHERE {' AND '.join(clauses)}", params).fetchone()
    if first is None:
        return None
    return filters.start or first.date(), filters.end or last.date()


def _fetch_users(cur, user_sql: str, params: list, blocks: int) -> dict:
    """Per-user rows as numpy columns, with strings resolved inside DuckDB: the inviter becomes the row
    index of the inviting member (-1 if none) and the two-letter region a number (256 * first letter +
    second), so no column of millions of Python strings crosses into Python.

    Memory is what limits a summary of a billion events (~80 M users): day offsets come as int16 (a
    range is at most MAX_RANGE_DAYS days), and rows stay in the order DuckDB returns them — only the
    inviter index is mapped to row positions, instead of reordering every column."""
    masks = ", ".join(f"n.m{b}" for b in range(blocks))
    offsets = ", ".join(f"CAST(n.{c} AS SMALLINT) AS {c}"
                        for c in ("install_off", "redeem_off", "view_off", "gen_off", "cameo_off"))
    sql = f"""
        WITH u AS ({user_sql}),
        n AS (SELECT *, row_number() OVER () - 1 AS idx FROM u),
        members AS (SELECT user_id, idx FROM n WHERE redeem_off IS NOT NULL)
        SELECT n.idx, {offsets},
               coalesce(members.idx, -1) AS parent,
               CASE WHEN n.region IS NULL THEN -1 WHEN length(n.region) = 2
                    THEN ascii(n.region[1]) * 256 + ascii(n.region[2]) ELSE -2 END AS region_code,
               {masks}
        FROM n LEFT JOIN members ON n.inviter = members.user_id
    """
    cols = cur.execute(sql, params).fetchnumpy()
    idx = np.asarray(cols.pop("idx"), dtype=np.int64)
    position = np.empty(idx.size, dtype=np.int64)
    position[idx] = np.arange(idx.size)
    parent = np.asarray(cols["parent"], dtype=np.int64)
    cols["parent"] = np.where(parent >= 0, position[np.maximum(parent, 0)], -1)
    cols["idx"] = np.arange(idx.size)
    return cols


def compute(cur, filters: Filters) -> dict:
    """Every growth metric for the filtered events, as JSON-ready rows (aggregated: at most days x 31).

    Reads the rollup when every chosen source has a current one, else raw events (`compute_raw`)."""
    started = time.perf_counter()
    info = rollup.covered(cur, filters.sources)
    if not info:  # a source without a current rollup (or only live, with nothing folded: no events)
        return compute_raw(cur, filters)
    if filters.start and filters.end:  # as day_range: a given range stands even with no events in it
        start, end = filters.start, filters.end
    else:
        span = rollup.day_span(cur, filters.sources, filters.regions)
        if span is None:
            return _empty(filters, time.perf_counter() - started, "rollup")
        start, end = filters.start or span[0], filters.end or span[1]
    ndays = _check_days(start, end)
    whole = True
    if filters.start or filters.end:  # does the range still hold every selected event?
        span = rollup.day_span(cur, filters.sources, filters.regions)
        whole = span is None or (start <= span[0] and span[1] <= end)
    users = rollup.load_users(cur, filters, info, start, ndays, whole)
    if users is None:  # the range splits some user's invite redemptions
        return compute_raw(cur, filters)
    daily_rows = rollup.daily_rows(cur, filters.sources, filters.regions, start, end)
    return _finish(users, daily_rows, filters, start, end, started, "rollup")


def compute_raw(cur, filters: Filters) -> dict:
    """The same result from raw events: one GROUP BY user and one GROUP BY day and type."""
    started = time.perf_counter()
    span = day_range(cur, filters)
    if span is None:
        return _empty(filters, time.perf_counter() - started, "raw")
    start, end = span
    ndays = _check_days(start, end)
    blocks = (ndays + 63) // 64
    where, params = _where(filters, start, end)
    start_us = int((datetime.combine(start, datetime.min.time()) - _EPOCH) / timedelta(microseconds=1))
    users = _fetch_users(cur, user_rows_sql("events", where, blocks), [start_us, *params], blocks)
    daily_rows = cur.execute(daily_counts_sql("events", where), [start_us, *params]).fetchall()
    return _finish(users, daily_rows, filters, start, end, started, "raw")


def _check_days(start: date, end: date) -> int:
    ndays = (end - start).days + 1
    if ndays > MAX_RANGE_DAYS:
        raise InputError(f"date range is {ndays} days; choose start/end at most {MAX_RANGE_DAYS} days apart")
    return ndays


def _finish(users: dict, daily_rows: list, filters: Filters, start: date, end: date, started: float,
            path: str) -> dict:
    ndays = (end - start).days + 1
    blocks = (ndays + 63) // 64
    result = summarize(users, daily_rows, blocks, ndays, start)
    result["definition"] = ACTIVE_USER_DEFINITION
    result["filters"] = filters.as_dict()
    result["range"] = {"start": start.isoformat(), "end": end.isoformat(), "days": ndays}
    result["path"] = path
    result["elapsed_s"] = round(time.perf_counter() - started, 4)
    return result


def _empty(filters: Filters, elapsed: float, path: str) -> dict:
    return {
        "definition": ACTIVE_USER_DEFINITION,
        "filters": filters.as_dict(),
        "range": None,
        "totals": {},
        "retention": {},
        "funnel": [],
        "invites": {},
        "regions": [],
        "daily": [],
        "retention_matrix": [],
        "path": path,
        "elapsed_s": round(elapsed, 4),
    }


def series(result: dict, name: str) -> list[dict]:
    """One daily series from a computed result, as [{day, value}]."""
    if name not in SERIES:
        raise InputError(f"series {name!r} is not known; choose one of: {', '.join(SERIES)}")
    return [{"day": row["day"], "value": row[name]} for row in result["daily"]]
