"""Growth metrics against hand-computed tiny event sets, plus a naive pandas cross-check."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from sora_lab.core.errors import InputError
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


def test_the_retention_heat_map_drops_cohort_labels_that_would_overlap():
    import re

    from sora_lab.metrics import charts

    days = [f"2025-10-{d:02d}" for d in range(1, 32)] + [f"2025-11-{d:02d}" for d in range(1, 5)]
    rows = [{"cohort": c, "offset": o, "rate": 0.5 * 0.9 ** o, "users": 100, "retained": 50}
            for c in days for o in range(31)]
    svg = charts.to_svg(charts.retention_heatmap({"retention_matrix": rows}))
    shown = re.findall(r"<text([^>]*)>(2025-1[01]-[0-9]{2})</text>", svg)
    assert {label for _, label in shown} == set(days)  # every cohort keeps a (maybe hidden) label
    visible = [label for attributes, label in shown if 'opacity="0"' not in attributes]
    assert 10 <= len(visible) < len(days)  # 35 rows in 260 px: about every other label, none overlapping


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


# --- the rollup (simulated sources) against raw events --------------------------------------------

COMPARED = ("daily", "totals", "retention", "funnel", "invites", "regions", "retention_matrix", "range")


def store_bulk(metrics: MetricsService, rows: list[tuple], source: str = "sim:t") -> None:
    """rows as in `add`, written the way the simulator writes (events and rollup in one transaction)."""
    import pyarrow as pa

    from sora_lab.metrics.simulate import write_events

    def column(i, default=None):
        return [row[i] if len(row) > i else default for row in rows]

    table = pa.table({
        "ts": pa.array(column(0), pa.timestamp("us")),
        "user_id": pa.array(column(1), pa.string()),
        "type": pa.array(column(2), pa.string()),
        "target_id": pa.array(column(3), pa.string()),
        "region": pa.array(column(4, "US"), pa.string()),
        "watch_ms": pa.array([None] * len(rows), pa.int32()),
    })
    write_events(metrics.store, source, table)


def both_paths(metrics: MetricsService, **kwargs) -> dict:
    """Summary from the rollup and from raw events for the same filters; asserts they are equal."""
    from sora_lab.metrics import queries

    filters = queries.make_filters(**({"sources": ["sim:t"]} | kwargs))
    with metrics.store.read() as cur:
        fast = queries.compute(cur, filters)
        raw = queries.compute_raw(cur, filters)
    assert raw["path"] == "raw"
    for key in COMPARED:
        assert fast[key] == raw[key], key
    return fast


EDGE_ROWS = [
    # midnight UTC: installed a second before midnight, active two seconds later (next UTC day)
    (at(0, 23, 59, 59), "a", "install", None, "US"),
    (at(1, 0, 0, 1), "a", "view", None, "US"),
    (at(1, 0, 0, 2), "a", "invite_sent", None, "US"),
    # reinstall: cohort is the first install; the second is a reinstall on day 3
    (at(0), "b", "install", None, "CA"), (at(0, 13), "b", "session_start", None, "CA"),
    (at(3), "b", "install", None, "CA"), (at(3, 13), "b", "generate", None, "CA"),
    (at(3, 14), "b", "cameo_created", None, "CA"),
    # no events after install
    (at(1), "c", "install", None, "US"),
    # anonymous installs, one without a region
    (at(2), None, "install", None, "US"), (at(2, 1), None, "install", None, None),
    # invite tree: operator -> r -> m -> n; w redeemed a code naming nobody, then one naming r
    (at(0, 8), "r", "install", None, "US"), (at(0, 9), "r", "invite_redeemed", "lab", "US"),
    (at(0, 10), "r", "view", None, "US"),
    (at(1, 8), "m", "invite_redeemed", "r", "US"), (at(1, 9), "m", "like", None, "US"),
    (at(2, 8), "n", "install", None, "KR"), (at(2, 9), "n", "invite_redeemed", "m", "KR"),
    (at(2, 9, 30), "w", "invite_redeemed", None, "US"), (at(2, 10), "w", "invite_redeemed", "r", "US"),
    # one user in two regions (the install region decides; the smaller one wins), with a NULL region event
    (at(1), "x", "install", None, "JP"), (at(2), "x", "install", None, "CA"), (at(2, 5), "x", "remix", None, None),
    (at(2, 6), "x", "follow", None, "JP"),
    # a region name that is not two letters, and a user whose only install has no region
    (at(1), "y", "install", None, "USA"), (at(1, 2), "y", "comment", None, "USA"),
    (at(1), "z", "install", None, None), (at(4, 23, 59, 59), "z", "share", None, None),
    # events that are neither installs nor active
    (at(4), "q", "follow", None, "US"), (at(4), "q", "publish", None, "US"),
]


def test_rollup_equals_raw_events_on_edge_cases(metrics):
    store_bulk(metrics, EDGE_ROWS)
    result = both_paths(metrics)
    assert result["path"] == "rollup"
    assert daily(result, "downloads") == [3, 4, 3, 0, 0]  # a b r | c x y z | n + two anonymous
    assert result["totals"]["reinstalls"] == 2 and result["totals"]["anonymous_installs"] == 2
    assert result["invites"]["max_depth"] == 3 and result["invites"]["members"] == 4
    regions = {r["region"]: r["downloads"] for r in result["regions"]}
    assert regions["CA"] == 2 and regions["other"] == 1 and regions["unknown"] == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": "2025-10-01"},
        {"end": "2025-10-02"},
        {"start": "2025-10-01", "end": "2025-10-03"},
        {"start": "2025-09-25", "end": "2025-10-10"},  # wider than the events on both sides
        {"start": "2025-11-01", "end": "2025-11-02"},  # no events in range
        {"regions": ["CA"]},
        {"regions": ["US", "JP"]},
        {"regions": ["KR"], "start": "2025-10-02"},
        {"regions": ["FR"]},
    ],
)
def test_rollup_equals_raw_events_under_filters(metrics, kwargs):
    store_bulk(metrics, EDGE_ROWS)
    both_paths(metrics, **kwargs)


def test_a_range_that_splits_invite_redemptions_falls_back_to_raw_events(metrics):
    store_bulk(metrics, EDGE_ROWS + [(at(4), "w", "invite_redeemed", "n", "US")])
    assert both_paths(metrics, start="2025-10-04")["path"] == "raw"  # w's first redemptions are before the range
    assert both_paths(metrics)["path"] == "rollup"


def test_rollup_merges_a_user_seen_in_two_sources(metrics):
    store_bulk(metrics, EDGE_ROWS)
    store_bulk(metrics, [(at(0, 1), "a", "install", None, "JP"), (at(6), "a", "view", None, "JP"),
                         (at(0, 2), "w", "invite_redeemed", "a", "JP"), (at(5), "new", "install", None, "US")],
               source="sim:u")
    result = both_paths(metrics, sources=["sim:t", "sim:u"])
    assert result["path"] == "rollup"
    assert result["totals"]["installed_users"] == 9  # a counted once
    assert {r["region"] for r in result["regions"]} >= {"JP"}  # a's first install region is JP < US
    assert both_paths(metrics, sources=["sim:t", "sim:u"], start="2025-10-01")["path"] == "rollup"
    both_paths(metrics, sources=["sim:t", "sim:u"], regions=["JP", "US"], end="2025-10-03")


def test_rollup_on_a_random_launch_with_two_mask_blocks(metrics):
    rng = np.random.default_rng(5)
    n, days = 5000, 100  # 100 days: day bits span two 64-bit words
    types = ["install", "view", "like", "invite_sent", "invite_redeemed", "generate", "session_start",
             "cameo_created", "follow"]
    rows = []
    for user, type_, second, region in zip(rng.integers(0, 400, size=n), rng.choice(types, size=n),
                                           rng.integers(0, days * 86400, size=n),
                                           rng.choice(["US", "CA", "JP"], size=n), strict=True):
        # inviters have smaller numbers (no cycles); user 0 and some others redeem codes naming nobody
        target = f"u{rng.integers(0, user)}" if type_ == "invite_redeemed" and user and rng.random() < 0.8 else None
        rows.append((D0 + timedelta(seconds=int(second)), f"u{user}", str(type_), target, str(region)))
    store_bulk(metrics, rows)
    assert both_paths(metrics)["path"] == "rollup"
    both_paths(metrics, regions=["JP", "CA"])
    both_paths(metrics, start="2025-11-15", end="2026-01-02")  # keeps every redemption only by chance: any path


def test_sources_spanning_too_many_days_or_written_around_the_rollup_use_raw_events(metrics):
    store_bulk(metrics, [(at(0), "a", "install"), (at(200), "a", "view")])
    assert both_paths(metrics)["path"] == "raw"  # 201 days: more than the rollup's 128
    store_bulk(metrics, EDGE_ROWS)
    assert both_paths(metrics)["path"] == "rollup"
    add(metrics, [(at(1, 5), "late", "install")], source="sim:t")  # bypasses write_events
    assert both_paths(metrics)["path"] == "raw"


def test_deleting_a_scenario_drops_its_rollup(metrics):
    store_bulk(metrics, EDGE_ROWS, source="sim:gone")
    metrics.delete_scenario(scenario="gone")
    with metrics.store.read() as cur:
        left = [cur.execute(f"SELECT count(*) FROM {t} WHERE source = 'sim:gone'").fetchone()[0]
                for t in ("metric_users", "metric_daily", "metric_sources")]
    assert left == [0, 0, 0]
    assert metrics.summary(sources=["sim:gone"])["totals"] == {}


def test_migration_backfills_the_rollup_exactly_as_bulk_ingest_builds_it(metrics):
    from sora_lab.store.schema import MIGRATIONS

    store_bulk(metrics, EDGE_ROWS)
    add(metrics, EDGE_ROWS[:9], source="sim:raw")  # written before the rollup existed
    query = """SELECT u.source, u.region, k.user_id, u.inviter_us, i.user_id AS inviter, {masks}
               FROM metric_users u JOIN metric_user_keys k USING (ukey)
               LEFT JOIN metric_user_keys i ON i.ukey = u.inviter ORDER BY ALL"""
    from sora_lab.metrics.rollup import MASK_COLUMNS

    query = query.format(masks=", ".join(f"u.{c}" for c in MASK_COLUMNS))
    with metrics.store.read() as cur:
        bulk_users = cur.execute(query).fetchall()
        bulk_daily = cur.execute("SELECT * FROM metric_daily ORDER BY ALL").fetchall()
    with metrics.store.write() as cur:
        for table in ("metric_users", "metric_daily", "metric_sources", "metric_user_keys"):
            cur.execute(f"DROP TABLE {table}")
        for statement in MIGRATIONS[5] + MIGRATIONS[6]:  # 6 adds the rollup and backfills it, 7 its second layout
            cur.execute(statement)
    with metrics.store.read() as cur:
        users = cur.execute(query).fetchall()
        backfilled_daily = cur.execute("SELECT * FROM metric_daily WHERE source = 'sim:t' ORDER BY ALL").fetchall()
        raw_sources = cur.execute("SELECT count(*) FROM metric_users WHERE source = 'sim:raw'").fetchone()[0]
    assert [u for u in users if u[0] == "sim:t"] == bulk_users
    assert backfilled_daily == bulk_daily
    assert raw_sources == 3  # a, b and c: one row per (source, region, user)
    assert both_paths(metrics)["path"] == "rollup"
    assert both_paths(metrics, sources=["sim:raw"])["path"] == "rollup"


def test_invite_cycles_are_refused_on_both_paths(metrics):
    cycle = [(at(0), "a", "invite_redeemed", "b"), (at(0, 1), "b", "invite_redeemed", "a"),
             (at(0, 2), "c", "invite_redeemed", None), (at(0, 3), "d", "invite_redeemed", "c")]
    add(metrics, cycle)
    store_bulk(metrics, cycle)
    with pytest.raises(InputError, match="invite tree has a cycle"):
        metrics.summary()
    with pytest.raises(InputError, match="invite tree has a cycle"):
        metrics.summary(sources=["sim:t"])


def test_invite_depth_of_a_long_chain(metrics):
    chain = [(at(0), "u0", "invite_redeemed", None)]
    chain += [(at(0, 0, i), f"u{i}", "invite_redeemed", f"u{i - 1}") for i in range(1, 70)]
    store_bulk(metrics, chain)
    inv = both_paths(metrics)["invites"]
    assert inv["max_depth"] == 70 and inv["roots"] == 1 and inv["k_factor"] == round(69 / 70, 4)
