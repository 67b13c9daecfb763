"""The growth summary from per-user rows: daily series, totals, funnel and regions.

`summarize` takes the per-user columns (from raw events or the rollup, see queries.py)
and the per-day counts, and hands cohort retention and the invite tree to their own
modules. Everything here is numpy over at most a few million rows.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from sora_lab.metrics.bitmasks import mask_matrix, offsets, ratio, window_counts
from sora_lab.metrics.invites import invite_tree
from sora_lab.metrics.retention import cohort_retention

FUNNEL_STEPS = ("install", "access", "first_view", "first_generation", "cameo_created")
FUNNEL_LABELS = {
    "install": "installed",
    "access": "got access (redeemed an invite, or used the app once it opened)",
    "first_view": "watched a clip",
    "first_generation": "generated a clip",
    "cameo_created": "created a cameo",
}


def summarize(users: dict, daily_rows: list, blocks: int, ndays: int, start: date) -> dict:
    """Every metric of the range from per-user columns (`m0..`, `*_off`, `parent`, `region_code`) and
    (day offset, type, count, anonymous) rows; `blocks` = 64-day words per user, day 0 = `start`."""
    n = len(users["idx"])
    masks = mask_matrix(users, blocks)
    install_off = offsets(users["install_off"])
    redeem_off = offsets(users["redeem_off"])
    generated = offsets(users["gen_off"]) >= 0  # creators: at least one generate event in range
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
    dau = window_counts(active_masks, ndays, 1) if n else np.zeros(ndays, dtype=np.int64)
    wau = window_counts(active_masks, ndays, 7) if n else np.zeros(ndays, dtype=np.int64)
    mau = window_counts(active_masks, ndays, 30) if n else np.zeros(ndays, dtype=np.int64)
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
                "stickiness": ratio(dau[d], mau[d]),
                "generations": int(per_day["generate"][d]),
                "generations_per_dau": ratio(per_day["generate"][d], dau[d]),
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
        "stickiness_last_day": ratio(dau[-1], mau[-1]),
        "stickiness_mean": round(float(np.mean(stick)), 4) if stick else None,
        "generations": total_generations,
        "generations_per_active_user": ratio(total_generations, active_users),
        "creators": creators,
        # active, never generated. Not the funnel's "watched a clip" (everyone with a view event): the name
        # "viewers" once made the two look like contradicting counts of one thing.
        "watch_only_users": active_users - creators,
        "creator_share": ratio(creators, active_users),
        "downloads_per_active_user": ratio(int(downloads.sum()), active_users),
        "days_to_1m_downloads": _days_to(cumulative, 1_000_000),
    }
    retention, matrix = cohort_retention(masks, install_off, ndays, start)
    return {
        "totals": totals,
        "retention": retention,
        "funnel": _funnel(users, has_install, access),
        "invites": invite_tree(users, redeem_off, per_day),
        "regions": _regions(users, has_install, active, generated, masks, ndays),
        "daily": daily,
        "retention_matrix": matrix,
    }


def _days_to(cumulative: np.ndarray, target: int) -> int | None:
    """Days (1 = the first day) until cumulative downloads reached `target`; None if never."""
    hit = np.nonzero(cumulative >= target)[0]
    return int(hit[0]) + 1 if hit.size else None


def _funnel(users: dict, has_install: np.ndarray, access: np.ndarray) -> list[dict]:
    """Installed users who reached each FUNNEL_STEPS step and every step before it."""
    steps = [
        has_install,
        access,
        offsets(users["view_off"]) >= 0,
        offsets(users["gen_off"]) >= 0,
        offsets(users["cameo_off"]) >= 0,
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
                "share_of_installs": ratio(count, base),
                "share_of_previous": ratio(count, previous),
            }
        )
        previous = count
    return out


def _regions(users, has_install, active, generated, masks, ndays) -> list[dict]:
    """Per region (of the user's install event; "unknown" without one in range), most downloads first."""
    regions = offsets(users["region_code"])
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


def region_name(code: int) -> str:
    """Inverse of the region code the per-user rows carry: 256 * first letter + second; -1 none, -2 other."""
    if code == -1:
        return "unknown"
    if code == -2:
        return "other"
    return chr(code // 256) + chr(code % 256)
