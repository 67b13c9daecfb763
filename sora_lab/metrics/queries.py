"""Metric definitions over the `events` table.

Two inputs do the heavy work: per-user rows (first install, access, funnel steps,
inviter, and a bitmask of the UTC days the user was active) and per-day counts by
type (installs, generations, invites). Everything else — DAU/WAU/MAU windows,
retention cohorts, invite-tree depth — is a numpy roll-up over the per-user rows.

Where they come from: for sources with a rollup (simulated sources, see rollup.py)
from the rollup tables — about one row per user and per (day, type) instead of
every event; otherwise from two SQL scans of raw events (`compute_raw`). Both give
identical results; tests compare them on edge cases.

Definitions (also returned with every result, so a dashboard can show them):
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
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from sora_lab.core.errors import InputError
from sora_lab.metrics import rollup
from sora_lab.metrics.rollup import ACTIVE_TYPES

ACTIVE_USER_DEFINITION = (
    "An active user on a UTC day is one with at least one session_start, view, like, share, remix, "
    "comment or generate event that day; installs and invites alone do not count."
)
FUNNEL_STEPS = ("install", "access", "first_view", "first_generation", "cameo_created")
FUNNEL_LABELS = {
    "install": "installed",
    "access": "got access (invite redeemed, or active once open)",
    "first_view": "watched a clip",
    "first_generation": "generated a clip",
    "cameo_created": "created a cameo",
}
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
RETENTION_DAYS = (1, 7, 30)
MAX_RANGE_DAYS = 400
_DAY_US = 86_400_000_000
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


def _user_sql(where: str, blocks: int) -> str:
    """One row per user. Measured: every filtered aggregate costs about as much as the grouping itself,
    so there are only the ones the roll-ups need (region comes from install rows, the rarer type)."""
    active = "type IN (" + ", ".join(f"'{t}'" for t in ACTIVE_TYPES) + ")"
    masks = ",\n".join(
        f"bit_or(CAST(1 AS UBIGINT) << CAST(off % 64 AS UBIGINT)) FILTER (WHERE act AND off // 64 = {b}) AS m{b}"
        if blocks > 1
        else "bit_or(CAST(1 AS UBIGINT) << CAST(off AS UBIGINT)) FILTER (WHERE act) AS m0"
        for b in range(blocks)
    )
    return f"""
        WITH f AS (
            SELECT user_id, type, region, target_id, ts,
                   CAST((epoch_us(ts) - ?) // {_DAY_US} AS BIGINT) AS off,
                   {active} AS act
            FROM events WHERE {where} AND user_id IS NOT NULL
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


def _fetch_users(cur, user_sql: str, params: list, blocks: int) -> dict:
    """Per-user rows as numpy columns, with strings resolved inside DuckDB: the inviter becomes the row
    index of the inviting member (-1 if none) and the two-letter region a number (256 * first letter +
    second), so no column of millions of Python strings crosses into Python."""
    masks = ", ".join(f"n.m{b}" for b in range(blocks))
    sql = f"""
        WITH u AS ({user_sql}),
        n AS (SELECT *, row_number() OVER () - 1 AS idx FROM u),
        members AS (SELECT user_id, idx FROM n WHERE redeem_off IS NOT NULL)
        SELECT n.idx, n.install_off, n.redeem_off, n.view_off, n.gen_off, n.cameo_off,
               coalesce(members.idx, -1) AS parent,
               CASE WHEN n.region IS NULL THEN -1 WHEN length(n.region) = 2
                    THEN ascii(n.region[1]) * 256 + ascii(n.region[2]) ELSE -2 END AS region_code,
               {masks}
        FROM n LEFT JOIN members ON n.inviter = members.user_id
    """
    cols = cur.execute(sql, params).fetchnumpy()
    order = np.argsort(np.asarray(cols["idx"], dtype=np.int64), kind="stable")
    return {k: np.asarray(v)[order] if not isinstance(v, np.ma.MaskedArray) else v[order] for k, v in cols.items()}


def region_name(code: int) -> str:
    """Inverse of the region code in _fetch_users."""
    if code == -1:
        return "unknown"
    if code == -2:
        return "other"
    return chr(code // 256) + chr(code % 256)


def _daily_sql(where: str) -> str:
    return f"""
        SELECT CAST((epoch_us(ts) - ?) // {_DAY_US} AS BIGINT) AS off, type,
               count(*) AS n, count(*) FILTER (WHERE user_id IS NULL) AS anonymous
        FROM events
        WHERE {where} AND type IN ('install', 'generate', 'invite_sent', 'invite_redeemed')
        GROUP BY ALL
    """


def compute(cur, filters: Filters) -> dict:
    """Every growth metric for the filtered events, as JSON-ready rows (aggregated: at most days x 31).

    Reads the rollup when every chosen source has a current one, else raw events (`compute_raw`)."""
    started = time.perf_counter()
    info = rollup.covered(cur, filters.sources)
    if info is None:
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
    users = _fetch_users(cur, _user_sql(where, blocks), [start_us, *params], blocks)
    daily_rows = cur.execute(_daily_sql(where), [start_us, *params]).fetchall()
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
    result = _roll_up(users, daily_rows, blocks, ndays, start)
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


# --- numpy roll-ups over the per-user rows ---------------------------------------


def _offsets(values) -> np.ndarray:
    """A nullable integer column with -1 for NULL; integer columns keep their (often narrower) type,
    which saves a copy per column at millions of users."""
    if isinstance(values, np.ma.MaskedArray):
        return values.filled(-1).astype(np.int64)
    values = np.asarray(values)
    return values if np.issubdtype(values.dtype, np.integer) else values.astype(np.int64)


def _mask_matrix(users: dict, blocks: int) -> np.ndarray:
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


def _bit_counts(words: np.ndarray, nbits: int = 64) -> np.ndarray:
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


def _window_counts(masks: np.ndarray, ndays: int, width: int) -> np.ndarray:
    """Distinct users active in [D-width+1, D] for every day D: bit D of OR(mask << j, j < width),
    built by doubling (log2(width) shifts), then counted per bit. `masks`: the active users' rows."""
    spread = masks
    covered = 1
    while covered < width:
        step = min(covered, width - covered)
        spread = spread | _shift_up(spread, step)
        covered += step
    counts = np.concatenate([_bit_counts(spread[:, b]) for b in range(masks.shape[1])])
    return counts[:ndays]


def _window_at(masks: np.ndarray, day: int) -> np.ndarray:
    """Each row's 64 day bits starting at `day` (bit k = active on day + k)."""
    q, r = divmod(day, 64)
    out = masks[:, q] >> np.uint64(r)
    if r and q + 1 < masks.shape[1]:
        out = out | (masks[:, q + 1] << np.uint64(64 - r))
    return out


def _roll_up(users: dict, daily_rows: list, blocks: int, ndays: int, start: date) -> dict:
    n = len(users["idx"])
    masks = _mask_matrix(users, blocks)
    install_off = _offsets(users["install_off"])
    redeem_off = _offsets(users["redeem_off"])
    generated = _offsets(users["gen_off"]) >= 0  # creators: at least one generate event in range
    has_install = install_off >= 0
    active = (masks != 0).any(axis=1) if n else np.zeros(0, dtype=bool)  # any active day in range

    per_day = {t: np.zeros(ndays, dtype=np.int64) for t in ("install", "generate", "invite_sent", "invite_redeemed")}
    anonymous = np.zeros(ndays, dtype=np.int64)
    for off, type_, count, anon in daily_rows:
        per_day[type_][off] += count
        if type_ == "install":
            anonymous[off] += anon
    first_installs = np.bincount(install_off[has_install], minlength=ndays)[:ndays]
    downloads = first_installs + anonymous
    reinstalls = per_day["install"] - downloads
    active_masks = masks[active] if n else masks
    dau = _window_counts(active_masks, ndays, 1) if n else np.zeros(ndays, dtype=np.int64)
    wau = _window_counts(active_masks, ndays, 7) if n else np.zeros(ndays, dtype=np.int64)
    mau = _window_counts(active_masks, ndays, 30) if n else np.zeros(ndays, dtype=np.int64)
    cumulative = np.cumsum(downloads)

    daily = []
    for d in range(ndays):
        daily.append(
            {
                "day": (start + timedelta(days=d)).isoformat(),
                "downloads": int(downloads[d]),
                "cumulative_downloads": int(cumulative[d]),
                "reinstalls": int(reinstalls[d]),
                "dau": int(dau[d]),
                "wau": int(wau[d]),
                "mau": int(mau[d]),
                "stickiness": _ratio(dau[d], mau[d]),
                "generations": int(per_day["generate"][d]),
                "generations_per_dau": _ratio(per_day["generate"][d], dau[d]),
            }
        )

    total_generations = int(per_day["generate"].sum())
    creators = int((generated & active).sum())
    active_users = int(active.sum())
    access = (redeem_off >= 0) | active
    stick = [row["stickiness"] for row in daily if row["mau"] > 0]
    totals = {
        "downloads": int(downloads.sum()),
        "anonymous_installs": int(anonymous.sum()),
        "reinstalls": int(reinstalls.sum()),
        "installed_users": int(has_install.sum()),
        "users_with_access": int(access.sum()),
        "active_users": active_users,
        "never_active_installs": int((has_install & ~active).sum()),
        "dau_last_day": int(dau[-1]),
        "wau_last_day": int(wau[-1]),
        "mau_last_day": int(mau[-1]),
        "peak_dau": int(dau.max()),
        "stickiness_last_day": _ratio(dau[-1], mau[-1]),
        "stickiness_mean": round(float(np.mean(stick)), 4) if stick else None,
        "generations": total_generations,
        "generations_per_active_user": _ratio(total_generations, active_users),
        "creators": creators,
        "viewers": active_users - creators,
        "creator_share": _ratio(creators, active_users),
        "downloads_per_active_user": _ratio(int(downloads.sum()), active_users),
        "days_to_1m_downloads": _days_to(cumulative, 1_000_000),
    }
    retention, matrix = _retention(masks, install_off, ndays, start)
    return {
        "totals": totals,
        "retention": retention,
        "funnel": _funnel(users, has_install, access),
        "invites": _invites(users, redeem_off, per_day),
        "regions": _regions(users, has_install, active, generated, masks, ndays),
        "daily": daily,
        "retention_matrix": matrix,
    }


def _ratio(num, den) -> float | None:
    return round(float(num) / float(den), 4) if den else None


def _days_to(cumulative: np.ndarray, target: int) -> int | None:
    """Days (1 = the first day) until cumulative downloads reached `target`; None if never."""
    hit = np.nonzero(cumulative >= target)[0]
    return int(hit[0]) + 1 if hit.size else None


def _retention(masks: np.ndarray, install_off: np.ndarray, ndays: int, start: date) -> tuple[dict, list]:
    rows = np.nonzero(install_off >= 0)[0]
    cohorts = install_off[rows]
    cohort_sizes = np.bincount(cohorts, minlength=ndays)
    matrix = []
    pooled: dict[str, float | None] = {}
    launch: dict[str, float | None] = {}
    launch_day = int(cohorts.min()) if cohorts.size else None
    # retained_by[k, c]: users of cohort c active on day c + k (per cohort, one 64-bit window and a bit count)
    retained_by = np.zeros((31, ndays), dtype=np.int64)
    # only installed users active at some point can be retained: sort just those by cohort (int16: radix sort)
    seen = (masks[rows] != 0).any(axis=1) if masks.shape[1] > 1 else masks[rows, 0] != 0
    active_rows, active_cohorts = rows[seen], cohorts[seen]
    by_cohort = masks[active_rows[np.argsort(active_cohorts.astype(np.int16), kind="stable")]]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(active_cohorts, minlength=ndays))])
    for c in np.nonzero(cohort_sizes)[0].tolist():
        window = _window_at(by_cohort[bounds[c]:bounds[c + 1]], c)
        counts = _bit_counts(window[window != 0], 31)  # most installs are never active: count only the rest
        reach = min(31, ndays - c)
        retained_by[:reach, c] = counts[:reach]
    for k in range(0, 31):
        retained = retained_by[k]
        for c in range(ndays - k):
            if cohort_sizes[c]:
                matrix.append(
                    {
                        "cohort": (start + timedelta(days=c)).isoformat(),
                        "offset": k,
                        "users": int(cohort_sizes[c]),
                        "retained": int(retained[c]),
                        "rate": _ratio(retained[c], cohort_sizes[c]),
                    }
                )
        if k in RETENTION_DAYS:
            mature = cohort_sizes[: max(ndays - k, 0)].sum()
            pooled[f"d{k}"] = _ratio(retained[: max(ndays - k, 0)].sum(), mature)
            mature_launch = launch_day is not None and launch_day + k < ndays
            launch[f"d{k}"] = _ratio(retained[launch_day], cohort_sizes[launch_day]) if mature_launch else None
    return {
        **pooled,
        "launch_cohort": (start + timedelta(days=launch_day)).isoformat() if launch_day is not None else None,
        "launch_cohort_users": int(cohort_sizes[launch_day]) if launch_day is not None else 0,
        "launch": launch,
        "cohort": "first install day (UTC)",
    }, matrix


def _funnel(users: dict, has_install: np.ndarray, access: np.ndarray) -> list[dict]:
    steps = [
        has_install,
        access,
        _offsets(users["view_off"]) >= 0,
        _offsets(users["gen_off"]) >= 0,
        _offsets(users["cameo_off"]) >= 0,
    ]
    reached = has_install.copy()
    base = int(reached.sum())
    out = []
    previous = base
    for name, step in zip(FUNNEL_STEPS, steps, strict=True):
        reached = reached & step
        count = int(reached.sum())
        out.append(
            {
                "step": name,
                "label": FUNNEL_LABELS[name],
                "users": count,
                "share_of_installs": _ratio(count, base),
                "share_of_previous": _ratio(count, previous),
            }
        )
        previous = count
    return out


def _invites(users: dict, redeem_off: np.ndarray, per_day: dict) -> dict:
    """K-factor and invite-tree depth from invite_redeemed events (target_id = the inviter's user_id).

    Members are users who redeemed an invite. A member's depth is 1 when the inviter is not itself a
    member (the operator, a waitlist code), else the inviter's depth + 1. K-factor: members invited
    by members, per member — the average number of friends each member brought in.
    `users["parent"]` is the inviter's row (a member) or -1, resolved in SQL.
    """
    members = np.nonzero(redeem_off >= 0)[0]
    n_members = int(members.size)
    if not n_members:
        return {"sent": int(per_day["invite_sent"].sum()), "redeemed": int(per_day["invite_redeemed"].sum()),
                "members": 0, "k_factor": None, "max_depth": 0, "mean_depth": None, "depth_histogram": [],
                "roots": 0}
    position = np.full(len(redeem_off), -1, dtype=np.int64)
    position[members] = np.arange(n_members)
    parent_row = _offsets(users["parent"])[members]
    parent = np.where(parent_row >= 0, position[np.maximum(parent_row, 0)], -1)
    depth = _tree_depth(parent)
    children = int((parent >= 0).sum())
    histogram = np.bincount(depth)
    return {
        "sent": int(per_day["invite_sent"].sum()),
        "redeemed": int(per_day["invite_redeemed"].sum()),
        "members": n_members,
        "roots": int((parent < 0).sum()),
        "invited_by_members": children,
        "k_factor": _ratio(children, n_members),
        "conversion": _ratio(per_day["invite_redeemed"].sum(), per_day["invite_sent"].sum()),
        "max_depth": int(depth.max()),
        "mean_depth": round(float(depth.mean()), 3),
        "depth_histogram": [{"depth": d, "users": int(c)} for d, c in enumerate(histogram) if d > 0 and c],
    }


def _tree_depth(parent: np.ndarray) -> np.ndarray:
    """Depth of every node from parent pointers (-1 = root's child), level by level from the roots.

    Each level is one pass that looks parents up in a byte array (cache-resident even for millions of
    members); pointer jumping needed fewer passes but each made random 8-byte gathers over the whole
    tree, which dominated the summary at 8 M users. Invite trees are shallow (tens of levels)."""
    depth = np.zeros(parent.size, dtype=np.int64)
    has_parent = parent >= 0
    level = ~has_parent
    depth[level] = 1
    todo = np.nonzero(has_parent)[0]  # nodes without a depth yet, and their parents: shrinks every level
    up = parent[todo]
    d = 1
    while todo.size:
        hit = level[up]
        if not hit.any():
            raise InputError(
                "invite tree has a cycle (a user invited, directly or not, by themselves); check the events"
            )
        d += 1
        reached = todo[hit]
        depth[reached] = d
        level = np.zeros(parent.size, dtype=bool)
        level[reached] = True
        todo, up = todo[~hit], up[~hit]
    return depth


def _regions(users, has_install, active, generated, masks, ndays) -> list[dict]:
    # region of a user = region of their install event; "unknown" for users with no install in range
    regions = _offsets(users["region_code"])
    if regions.size and regions.max() < 1 << 16:  # two ASCII letters: the distinct codes without a sort
        present = np.nonzero(np.bincount(regions + 2))[0] - 2
    else:
        present = np.unique(regions)
    last = ndays - 1
    last_active = ((masks[:, last // 64] >> np.uint64(last % 64)) & np.uint64(1)).astype(bool) if len(masks) else []
    out = []
    for code in present.tolist():
        sel = regions == code
        out.append(
            {
                "region": region_name(code),
                "downloads": int((has_install & sel).sum()),
                "active_users": int((active & sel).sum()),
                "dau_last_day": int((last_active & sel).sum()) if len(masks) else 0,
                "creators": int((active & generated & sel).sum()),
            }
        )
    return sorted(out, key=lambda r: (-r["downloads"], r["region"]))


def series(result: dict, name: str) -> list[dict]:
    """One daily series from a computed result, as [{day, value}]."""
    if name not in SERIES:
        raise InputError(f"series {name!r} is not known; choose one of: {', '.join(SERIES)}")
    return [{"day": row["day"], "value": row[name]} for row in result["daily"]]
