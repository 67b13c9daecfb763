"""Cohort retention: of the users who first installed on day c, how many were active on day c + k.

Only cohorts with c + k inside the range count ("mature" cohorts); the launch cohort
(the first install day) is reported on its own as well.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from sora_lab.metrics.bitmasks import bit_counts, ratio, window_at

RETENTION_DAYS = (1, 7, 30)


def cohort_retention(masks: np.ndarray, install_off: np.ndarray, ndays: int, start: date) -> tuple[dict, list]:
    """(pooled and launch-cohort D1/D7/D30, the cohort x offset matrix for k = 0..30)."""
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
        window = window_at(by_cohort[bounds[c]:bounds[c + 1]], c)
        counts = bit_counts(window[window != 0], 31)  # most installs are never active: count only the rest
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
                        "rate": ratio(retained[c], cohort_sizes[c]),
                    }
                )
        if k in RETENTION_DAYS:
            mature = cohort_sizes[: max(ndays - k, 0)].sum()
            pooled[f"d{k}"] = ratio(retained[: max(ndays - k, 0)].sum(), mature)
            mature_launch = launch_day is not None and launch_day + k < ndays
            launch[f"d{k}"] = ratio(retained[launch_day], cohort_sizes[launch_day]) if mature_launch else None
    return {
        **pooled,
        "launch_cohort": (start + timedelta(days=launch_day)).isoformat() if launch_day is not None else None,
        "launch_cohort_users": int(cohort_sizes[launch_day]) if launch_day is not None else 0,
        "launch": launch,
        "cohort": "first install day (UTC)",
    }, matrix
