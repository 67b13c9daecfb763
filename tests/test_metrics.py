"""Growth metrics against hand-computed tiny event sets, plus a naive pandas cross-check."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from sora_lab.errors import InputError
from sora_lab.metrics.service import MetricsService
from sora_lab.store.db import Store

D0 = datetime(2025, 9, 30)


def at(day: int, hh: int = 12, mm: int = 0, ss: int = 0) -> datetime:
    return D0 + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


@pytest.fixture
def metrics(tmp_path):
    store = Store.open(None)
    yield MetricsService(store, tmp_path)
    store.close()


def add(metrics: MetricsService, rows: list[tuple], source: str = "live") -> None:
    """rows: (ts, user_id, type[, target_id[, region]])"""
    with metrics.store.write() as cur:
        for row in rows:
            ts, user, type_, *rest = row
            target = rest[0] if rest else None
            region = rest[1] if len(rest) > 1 else "US"
            cur.execute(
                "INSERT INTO events (ts, user_id, type, target_id, region, source) VALUES (?, ?, ?, ?, ?, ?)",
                [ts, user, type_, target, region, source],
            )


def daily(result: dict, key: str) -> list:
    return [row[key] for row in result["daily"]]


def test_activity_across_midnight_utc_counts_on_each_utc_day(metrics):
    add(metrics, [
        (at(0, 23, 59, 59), "a", "install"),
        (at(1, 0, 0, 1), "a", "view"),        # two seconds later, but the next UTC day
        (at(1, 23, 59, 0), "b", "install"),
        (at(1, 23, 59, 30), "b", "session_start"),
        (at(2, 0, 0, 30), "b", "view"),
    ])
    result = metrics.summary()
    assert daily(result, "dau") == [0, 2, 1]
    assert daily(result, "downloads") == [1, 1, 0]
    matrix = {(r["cohort"], r["offset"]): r["rate"] for r in result["retention_matrix"]}
    assert matrix[("2025-09-30", 0)] == 0.0  # installed, not active on the install day
    assert matrix[("2025-09-30", 1)] == 1.0  # active 2 s later = D1
    assert matrix[("2025-10-01", 0)] == 1.0 and matrix[("2025-10-01", 1)] == 1.0
    assert result["retention"]["d1"] == 1.0  # both mature cohorts kept their user on day 1


def test_reinstall_is_not_a_second_download_and_cohort_is_first_install(metrics):
    add(metrics, [
        (at(0), "a", "install"),
        (at(0, 13), "a", "view"),
        (at(3), "a", "install"),  # reinstall
        (at(3, 13), "a", "view"),
        (at(3, 14), None, "install"),  # anonymous install before sign-up: a download of its own
    ])
    result = metrics.summary()
    assert daily(result, "downloads") == [1, 0, 0, 1]
    assert daily(result, "reinstalls") == [0, 0, 0, 1]
    assert daily(result, "cumulative_downloads") == [1, 1, 1, 2]
    assert result["totals"]["downloads"] == 2 and result["totals"]["anonymous_installs"] == 1
    cohorts = {r["cohort"] for r in result["retention_matrix"]}
    assert cohorts == {"2025-09-30"}
    d3 = next(r for r in result["retention_matrix"] if r["offset"] == 3)
    assert d3["rate"] == 1.0


def test_install_without_later_events_is_a_download_but_never_a_user(metrics):
    add(metrics, [
        (at(0), "a", "install"),
        (at(0), "b", "install"),
        (at(0, 13), "b", "invite_redeemed", "lab"),
        (at(0, 14), "b", "invite_sent"),  # invites alone do not make anyone active
        (at(1), "c", "install"),
        (at(1, 13), "c", "like"),
    ])
    result = metrics.summary()
    t = result["totals"]
    assert t["downloads"] == 3
    assert t["active_users"] == 1
    assert t["never_active_installs"] == 2
    assert daily(result, "dau") == [0, 1]
    assert t["downloads_per_active_user"] == 3.0
    assert "installs and invites alone do not count" in result["definition"]


def test_wau_and_mau_windows(metrics):
    add(metrics, [
        (at(0), "a", "install"), (at(0, 13), "a", "view"),
        (at(10), "a", "view"),
        (at(5), "b", "install"), (at(5, 13), "b", "generate"),
        (at(45), "c", "install"),  # stretches the range to day 45
    ])
    result = metrics.summary()
    dau, wau, mau = daily(result, "dau"), daily(result, "wau"), daily(result, "mau")
    assert dau[0] == 1 and dau[5] == 1 and dau[10] == 1 and sum(dau) == 3
    assert wau[6] == 2  # a (day 0) and b (day 5) within [0, 6]
    assert wau[7] == 1  # a's day 0 left the window
    assert wau[11] == 2 and wau[12] == 1 and wau[17] == 0
    assert mau[29] == 2 and mau[34] == 2 and mau[35] == 1 and mau[39] == 1 and mau[40] == 0
    assert result["daily"][10]["stickiness"] == 0.5  # 1 DAU / 2 MAU
    assert result["totals"]["generations_per_active_user"] == 0.5


def test_funnel_counts_users_who_reached_every_step_so_far(metrics):
    add(metrics, [
        (at(0), "a", "install"),
        (at(0), "b", "install"), (at(0, 13), "b", "invite_redeemed", "lab"),
        (at(0), "c", "install"), (at(0, 13), "c", "invite_redeemed", "lab"), (at(0, 14), "c", "view"),
        (at(0), "d", "install"), (at(0, 13), "d", "invite_redeemed", "lab"), (at(0, 14), "d", "view"),
        (at(1), "d", "generate"), (at(1, 1), "d", "cameo_created"),
        (at(0), "e", "install"), (at(0, 14), "e", "view"),  # open access: active without an invite
        (at(0, 14), "f", "generate"),  # no install in range: not in the funnel
    ])
    steps = {s["step"]: s["users"] for s in metrics.summary()["funnel"]}
    assert steps == {"install": 5, "access": 4, "first_view": 3, "first_generation": 1, "cameo_created": 1}


def test_invite_k_factor_and_tree_depth(metrics):
    # lab (operator) -> r -> a -> {b, c};  w redeemed a waitlist code (no inviter)
    add(metrics, [
        (at(0), "r", "invite_redeemed", "lab"),
        (at(0, 13), "r", "invite_sent"), (at(0, 13), "r", "invite_sent"),
        (at(0, 14), "a", "invite_redeemed", "r"),
        (at(1), "a", "invite_sent"), (at(1), "a", "invite_sent"), (at(1), "a", "invite_sent"),
        (at(1, 13), "b", "invite_redeemed", "a"),
        (at(1, 14), "c", "invite_redeemed", "a"),
        (at(1, 15), "w", "invite_redeemed", None),
    ])
    inv = metrics.summary()["invites"]
    assert inv["members"] == 5
    assert inv["roots"] == 2  # r (invited by the operator) and w
    assert inv["invited_by_members"] == 3
    assert inv["k_factor"] == 0.6
    assert inv["sent"] == 5 and inv["redeemed"] == 5
    assert inv["max_depth"] == 3
    assert inv["depth_histogram"] == [{"depth": 1, "users": 2}, {"depth": 2, "users": 1}, {"depth": 3, "users": 2}]


def test_region_split_and_region_filter(metrics):
    add(metrics, [
        (at(0), "a", "install", None, "US"), (at(0, 13), "a", "view", None, "US"),
        (at(0), "b", "install", None, "US"),
        (at(0), "c", "install", None, "CA"), (at(0, 13), "c", "generate", None, "CA"),
    ])
    regions = {r["region"]: r for r in metrics.summary()["regions"]}
    assert regions["US"]["downloads"] == 2 and regions["US"]["active_users"] == 1 and regions["US"]["creators"] == 0
    assert regions["CA"]["downloads"] == 1 and regions["CA"]["creators"] == 1
    only_ca = metrics.summary(regions=["ca"])
    assert only_ca["totals"]["downloads"] == 1 and only_ca["filters"]["regions"] == ["CA"]
    assert metrics.regions() == ["CA", "US"]


def test_sources_and_date_range_are_explicit(metrics):
    add(metrics, [(at(0), "a", "install"), (at(0, 13), "a", "view")])
    add(metrics, [(at(0), "s1", "install"), (at(1), "s2", "install")], source="sim:test")
    assert metrics.summary()["totals"]["downloads"] == 1  # default: live only
    assert metrics.summary(sources=["sim:test"])["totals"]["downloads"] == 2
    assert metrics.summary(sources="live,sim:test")["totals"]["downloads"] == 3
    ranged = metrics.summary(sources=["sim:test"], start="2025-10-01", end="2025-10-01")
    assert ranged["totals"]["downloads"] == 1 and ranged["range"]["days"] == 1
    assert metrics.summary(sources=["sim:none"])["totals"] == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sources": ["prod"]}, "sources: 'prod'"),
        ({"start": "30/09/2025"}, "start: '30/09/2025' is not a date"),
        ({"start": "2025-10-02", "end": "2025-10-01"}, "is before start"),
        ({"regions": ["USA"]}, "regions: 'USA'"),
    ],
)
def test_bad_filters_name_the_field(metrics, kwargs, message):
    with pytest.raises(InputError, match=message):
        metrics.summary(**kwargs)


def test_series_by_name(metrics):
    add(metrics, [(at(0), "a", "install"), (at(1), "a", "view")])
    rows = metrics.series(metric="dau")["rows"]
    assert rows == [{"day": "2025-09-30", "value": 0}, {"day": "2025-10-01", "value": 1}]
    with pytest.raises(InputError, match="metric 'users' is not a series"):
        metrics.series(metric="users")


def naive(events: pd.DataFrame, days: int) -> dict:
    """The definitions written the slow, obvious way, to check the fast path."""
    from sora_lab.metrics.queries import ACTIVE_TYPES

    ev = events.assign(day=(events.ts - D0).dt.days)
    act = ev[ev.type.isin(ACTIVE_TYPES)][["user_id", "day"]].drop_duplicates()
    dau = [int((act.day == d).sum()) for d in range(days)]
    mau = [act[(act.day > d - 30) & (act.day <= d)].user_id.nunique() for d in range(days)]
    wau = [act[(act.day > d - 7) & (act.day <= d)].user_id.nunique() for d in range(days)]
    first = ev[ev.type == "install"].groupby("user_id").day.min()
    active_set = set(zip(act.user_id, act.day, strict=True))
    d1_num = sum((u, c + 1) in active_set for u, c in first.items() if c + 1 < days)
    d1_den = sum(1 for c in first if c + 1 < days)
    return {"dau": dau, "wau": wau, "mau": mau, "d1": round(d1_num / d1_den, 4),
            "downloads": [int((first == d).sum()) for d in range(days)]}


def test_fast_metrics_match_a_naive_pandas_version(metrics):
    rng = np.random.default_rng(3)
    n, days = 4000, 70  # 70 days: masks span two 64-day blocks
    users = [f"u{i}" for i in rng.integers(0, 300, size=n)]
    types = rng.choice(["install", "view", "like", "invite_sent", "generate", "session_start"], size=n)
    ts = [D0 + timedelta(seconds=int(s)) for s in rng.integers(0, days * 86400, size=n)]
    add(metrics, list(zip(ts, users, types, strict=True)))
    events = pd.DataFrame({"ts": ts, "user_id": users, "type": types})
    expected = naive(events, days)
    result = metrics.summary(start="2025-09-30", end=(date(2025, 9, 30) + timedelta(days=days - 1)).isoformat())
    for key in ("dau", "wau", "mau", "downloads"):
        assert daily(result, key) == expected[key], key
    assert result["retention"]["d1"] == expected["d1"]


def test_results_are_json_ready(metrics):
    add(metrics, [(at(0), "a", "install"), (at(0, 13), "a", "view")])
    json.dumps(metrics.summary())
    json.dumps(metrics.sources())
    assert metrics.reference()["points"]


def test_charts_stay_under_altairs_row_limit_on_long_ranges(metrics):
    from sora_lab.metrics import charts

    rows = [(at(d), f"u{d}", "install") for d in range(0, 300, 1)] + [(at(d, 13), f"u{d}", "view") for d in range(300)]
    add(metrics, rows)
    result = metrics.summary()
    assert len(result["retention_matrix"]) > 5000
    spec = charts.retention_heatmap(result).to_dict()
    assert "latest" in spec["title"]
    for chart in (charts.growth(result), charts.cumulative(result), charts.funnel(result), charts.regions(result),
                  charts.invite_depth(result)):
        chart.to_dict()  # raises MaxRowsError past 5 000 rows
    assert charts.to_svg(charts.funnel(result)).startswith("<svg")
    assert charts.to_png(charts.funnel(result))[:4] == b"\x89PNG"


def test_imported_series_are_drawn_beside_the_public_figures(metrics):
    from sora_lab.metrics import charts

    add(metrics, [(at(0), "a", "install"), (at(1, 13), "a", "view")])
    metrics.import_series(rows=[{"date": "2025-10-01", "metric": "daily_active_users", "value": 110000,
                                 "source": "my estimate"},
                                {"date": "2025-10-01", "metric": "revenue", "value": 5, "source": "x"}])
    points = charts.imported_points(metrics.external())
    assert points == [{"series": "dau", "day": "2025-10-01", "value": 110000, "confidence": "imported",
                       "label": "Sora daily_active_users", "source": "my estimate"}]
    spec = charts.growth(metrics.summary(), points).to_dict()
    drawn = [v for data in spec["datasets"].values() for v in data if v.get("kind") == "imported series"]
    assert drawn and drawn[0]["value"] == 110000
