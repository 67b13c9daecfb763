"""Live events folded into the rollup incrementally: summaries read the rollup and equal raw events."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from sora_lab.core.errors import InputError
from sora_lab.metrics import queries
from sora_lab.metrics.service import MetricsService
from sora_lab.metrics.simulate import SimConfig, run_scenario
from sora_lab.store.db import Store

D0 = datetime(2025, 9, 30)  # UTC day 20361: the calendar window live@159 ends 118 days later
COMPARED = ("daily", "totals", "retention", "funnel", "invites", "regions", "retention_matrix", "range")
TYPES = ["install", "view", "like", "invite_sent", "invite_redeemed", "generate", "session_start",
         "cameo_created", "follow", "publish"]


@pytest.fixture
def metrics(tmp_path):
    store = Store.open(None)
    yield MetricsService(store, tmp_path)
    store.close()


def insert(metrics: MetricsService, rows: list[tuple]) -> None:
    """rows: (ts, user_id, type, target_id, region[, video_id]) as live events."""
    with metrics.store.write() as cur:
        cur.executemany("INSERT INTO events (ts, user_id, type, target_id, region, video_id) VALUES (?, ?, ?, ?, ?, ?)",
                        [(*row, None) if len(row) == 5 else row for row in rows])


def live_equals_raw(metrics: MetricsService, **kwargs) -> dict:
    """The service's summary (fold, then the rollup) against the raw-event scan of the same filters."""
    fast = metrics.summary(**kwargs)
    with metrics.store.read() as cur:
        raw = queries.compute_raw(cur, queries.make_filters(**kwargs))
    for key in COMPARED:
        assert fast[key] == raw[key], key
    return fast


def random_rows(rng, n: int, first_day: int, days: int, users: int = 300) -> list[tuple]:
    rows = []
    for user, type_, second, region in zip(rng.integers(0, users, size=n), rng.choice(TYPES, size=n),
                                           rng.integers(0, days * 86400, size=n),
                                           rng.choice(["US", "CA", "JP", None], size=n), strict=True):
        # inviters have smaller numbers (no cycles); some redemptions name nobody
        target = f"u{rng.integers(0, user)}" if type_ == "invite_redeemed" and user and rng.random() < 0.8 else None
        rows.append((D0 + timedelta(days=first_day, seconds=int(second)), None if user == 0 else f"u{user}",
                     str(type_), target, region))
    return rows


def test_live_summaries_read_the_rollup_and_equal_raw_events_as_events_arrive(metrics):
    rng = np.random.default_rng(11)
    # 130 days in batches, day order with some overlap: crosses the live@159 / live@160 window boundary
    for first_day in (0, 20, 40, 60, 80, 100, 115, 125):
        insert(metrics, random_rows(rng, 600, first_day, 8))
        result = live_equals_raw(metrics)
        assert result["path"] == "rollup"
    with metrics.store.read() as cur:
        windows = cur.execute("SELECT source FROM metric_sources ORDER BY source").fetchall()
    assert windows == [("live@159",), ("live@160",)]
    for kwargs in ({"regions": ["JP", "CA"]}, {"start": "2025-10-20", "end": "2026-02-04"},
                   {"start": "2026-01-20"}, {"end": "2025-10-05", "regions": ["US"]}):
        live_equals_raw(metrics, **kwargs)  # a range that splits redemptions may read raw events; both agree


def test_a_fold_refolds_only_the_newest_days(metrics):
    rng = np.random.default_rng(2)
    insert(metrics, random_rows(rng, 2000, 0, 30))
    first = metrics.fold_live()
    assert first["days"] == 30 and first["checked_every_day"]
    assert metrics.fold_live() == {"days": 0, "events": 0, "checked_every_day": False}
    insert(metrics, random_rows(rng, 50, 29, 1) + random_rows(rng, 50, 30, 1))  # today, and the day after
    again = metrics.fold_live()
    assert again == {"days": 2, "events": again["events"], "checked_every_day": False}
    insert(metrics, random_rows(rng, 5, 29, 1))  # committed after midnight with yesterday's time
    assert metrics.fold_live() == {"days": 1, "events": again["events"] - 50 + 5, "checked_every_day": False}
    assert live_equals_raw(metrics)["path"] == "rollup"


def test_deleted_late_and_rewritten_events_are_refolded(metrics):
    rng = np.random.default_rng(4)
    insert(metrics, random_rows(rng, 1500, 0, 20))
    insert(metrics, [(D0 + timedelta(days=19, hours=1), "u7", "generate", None, "US", "v1"),
                     (D0 + timedelta(days=19, hours=1), "u7", "remix", "v0", "US", "v1")])
    live_equals_raw(metrics)
    with metrics.store.write() as cur:  # a failed generation takes its events back (videos.records.forget)
        cur.execute("DELETE FROM events WHERE video_id = 'v1'")
    live_equals_raw(metrics)
    insert(metrics, [(D0 + timedelta(days=3, hours=5), "late", "install", None, "FR"),
                     (D0 + timedelta(days=4), "late", "view", None, "FR")])  # days long folded
    assert metrics.fold_live()["checked_every_day"]
    live_equals_raw(metrics)
    with metrics.store.write() as cur:  # same count on the newest day, other content: the checksum tells
        cur.execute("DELETE FROM events WHERE ts = (SELECT max(ts) FROM events)")
    insert(metrics, [(D0 + timedelta(days=19, hours=23), "u3", "view", None, "JP")])
    assert metrics.fold_live()["days"] == 1
    live_equals_raw(metrics)
    with metrics.store.write() as cur:
        cur.execute("DELETE FROM events")
    assert metrics.summary()["totals"] == {}
    with metrics.store.read() as cur:
        left = [cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("metric_live_days", "metric_live_user_days", "metric_users", "metric_daily")]
    assert left == [0, 0, 0, 0]


def test_live_and_a_simulated_source_together(metrics):
    run_scenario(metrics.store, SimConfig(name="t", scale=0.001, days=20))
    rng = np.random.default_rng(8)
    insert(metrics, random_rows(rng, 800, 0, 20))
    assert live_equals_raw(metrics, sources=["live", "sim:t"])["path"] == "rollup"


def test_the_seeded_lab_and_the_feed_write_live_events_the_rollup_sees(lab, services):
    """Events from the services themselves (sign-ups, invites, feed engagement), not hand-written rows."""
    metrics = services.metrics
    assert live_equals_raw(metrics)["path"] == "rollup"
    people = [u["handle"] for u in lab.accounts.list_users() if u["handle"] != "lab"][:2]
    for handle in people:
        lab.engagement.record(as_user=handle, events=[{"type": "session_start"}])
    result = live_equals_raw(metrics)
    assert result["path"] == "rollup" and result["daily"][-1]["dau"] >= 2


def test_a_member_reads_their_own_activity_and_nobody_elses(lab, services):
    """`metrics.mine` counts exactly the caller's live events (per type, per hour and per day), none of another
    person's, none of a simulated launch's; wrong arguments are refused naming the field."""
    run_scenario(services.store, SimConfig(name="t", scale=0.001, days=5))  # other people's events, in the past
    lab.engagement.record(as_user="maya", events=[{"type": "session_start"}] * 2)
    lab.engagement.record(as_user="theo", events=[{"type": "session_start"}] * 5)
    query = ("SELECT type, count(*) FROM events e JOIN users u USING (user_id) "
             "WHERE u.handle = ? AND e.source = 'live' GROUP BY type")
    with services.store.read() as cur:
        truth = {handle: dict(cur.execute(query, [handle]).fetchall()) for handle in ("maya", "theo")}
    for handle in ("maya", "theo"):
        for by in ("hour", "day"):
            mine = lab.metrics.mine(as_user=handle, by=by)
            assert mine["totals"] == truth[handle], (handle, by)
            assert sum(r["events"] for r in mine["rows"]) == sum(truth[handle].values())
            assert all(r["active"] == (r["type"] in queries.ACTIVE_TYPES) for r in mine["rows"])
    assert lab.metrics.mine(as_user="maya")["totals"]["session_start"] == 2
    assert lab.metrics.mine(as_user="theo")["totals"]["session_start"] == 5
    for bad, field in ((dict(by="week"), "by"), (dict(days=0), "days"), (dict(days="7"), "days"),
                       (dict(days=True), "days"), (dict(days=10**9), "days"), (dict(by=["hour"]), "by")):
        with pytest.raises(InputError, match=f"^{field}:"):
            lab.metrics.mine(as_user="maya", **bad)
    with pytest.raises(InputError, match="actor_id"):
        lab.metrics.mine(as_user="maya", actor_id=services.accounts.by_handle("theo").user_id)
