"""Rollout simulator, calibration, imports, the CLI and access over the server."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sora_lab.cli.main import app
from sora_lab.core.errors import AuthError, Forbidden, InputError
from sora_lab.lab import Lab
from sora_lab.metrics.reference import fit_for_display, format_figure
from sora_lab.metrics.service import MetricsService
from sora_lab.metrics.simulate import SimConfig, seed_default_scenario, simulate
from sora_lab.store.db import Store

runner = CliRunner()


@pytest.fixture
def metrics(tmp_path):
    store = Store.open(None)
    yield MetricsService(store, tmp_path)
    store.close()


def small(**kwargs) -> SimConfig:
    return SimConfig(**({"scale": 0.002, "days": 12} | kwargs))


def test_same_seed_same_events_other_seed_other_events():
    a, _ = simulate(small(seed=1))
    b, _ = simulate(small(seed=1))
    c, _ = simulate(small(seed=2))
    assert a.num_rows > 1000
    assert a.equals(b)
    assert not a.equals(c)


def test_simulated_events_respect_the_rules(metrics):
    metrics.simulate(scenario="rules", scale=0.002, days=20, open_day=-1, daily_generation_limit=2)
    with metrics.store.read() as cur:
        kinds = dict(
            cur.execute("SELECT type, count(*) FROM events WHERE source = 'sim:rules' GROUP BY type").fetchall()
        )
        max_gen = cur.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM events WHERE source = 'sim:rules' AND type = 'generate' "
            "GROUP BY user_id, ts::DATE)"
        ).fetchone()[0]
        # never open: nobody is active before redeeming an invite
        early = cur.execute(
            """SELECT count(*) FROM events e JOIN (
                   SELECT user_id, min(ts) AS redeemed FROM events
                   WHERE source = 'sim:rules' AND type = 'invite_redeemed' GROUP BY user_id) r USING (user_id)
               WHERE e.source = 'sim:rules' AND e.type = 'view' AND e.ts < r.redeemed"""
        ).fetchone()[0]
        unredeemed_active = cur.execute(
            """SELECT count(DISTINCT user_id) FROM events WHERE source = 'sim:rules' AND type = 'view'
               AND user_id NOT IN (
                   SELECT user_id FROM events WHERE source = 'sim:rules' AND type = 'invite_redeemed')"""
        ).fetchone()[0]
        rows = cur.execute("SELECT DISTINCT region FROM events WHERE source = 'sim:rules'").fetchall()
        regions = {r[0] for r in rows}
    assert set(kinds) >= {"install", "invite_redeemed", "invite_sent", "view", "generate", "session_start"}
    assert max_gen <= 2
    assert early == 0 and unredeemed_active == 0
    assert regions == {"US", "CA"}  # JP/KR only join when the app opens up


def test_opening_up_lets_people_in_without_an_invite(metrics):
    metrics.simulate(scenario="open", scale=0.002, days=12, open_day=5)
    s = metrics.summary(sources=["sim:open"])
    funnel = {f["step"]: f["users"] for f in s["funnel"]}
    with metrics.store.read() as cur:
        no_invite = cur.execute(
            """SELECT count(DISTINCT user_id) FROM events WHERE source = 'sim:open' AND type = 'view'
               AND user_id NOT IN (SELECT user_id FROM events WHERE source='sim:open' AND type='invite_redeemed')"""
        ).fetchone()[0]
    assert no_invite > 0
    assert funnel["access"] > s["invites"]["members"]
    assert {r["region"] for r in s["regions"]} >= {"JP", "KR"}


def test_simulated_launch_summary_from_the_rollup_equals_raw_events(metrics):
    from sora_lab.metrics import queries

    metrics.simulate(scenario="cmp", scale=0.003, days=40, open_day=20, seed=3)
    metrics.simulate(scenario="cmp2", scale=0.002, days=12, seed=4)
    for kwargs in ({"sources": ["sim:cmp"]}, {"sources": ["sim:cmp", "sim:cmp2"], "regions": ["US", "JP"]},
                   {"sources": ["sim:cmp"], "start": "2025-10-10", "end": "2025-11-05"}):
        filters = queries.make_filters(**kwargs)
        with metrics.store.read() as cur:
            fast, raw = queries.compute(cur, filters), queries.compute_raw(cur, filters)
        assert fast["totals"]["installed_users"] > 0
        assert fast["path"] == "rollup" or "start" in kwargs
        for key in ("daily", "totals", "retention", "funnel", "invites", "regions", "retention_matrix"):
            assert fast[key] == raw[key], (kwargs, key)


def test_more_invites_per_user_gives_more_members(metrics):
    metrics.simulate(scenario="few", scale=0.005, days=10, invites_per_user=1)
    metrics.simulate(scenario="many", scale=0.005, days=10, invites_per_user=8)
    few = metrics.summary(sources=["sim:few"])["invites"]
    many = metrics.summary(sources=["sim:many"])["invites"]
    assert many["invited_by_members"] > 2 * few["invited_by_members"]
    assert many["max_depth"] > few["max_depth"]


def test_default_scenario_is_calibrated_to_the_public_figures(tmp_path):
    """At demo scale the default launch reaches 1 M (scaled) downloads within 5 days with low retention."""
    store = Store.open(tmp_path / "lab.duckdb")
    report = seed_default_scenario(store)
    service = MetricsService(store, tmp_path)
    rows = service.fit(scenario="default")["fit"]
    fit = {row["figure"]: row for row in rows}
    store.close()
    shown = {row["figure"]: row for row in fit_for_display(rows)}
    assert shown["ios_downloads first 7 days"]["reference"] == "627,000"
    assert shown["retention_d1 launch cohort"]["reference"] == "10.0%"
    assert shown["downloads under 5 days"]["reference"] == "5 days"
    assert shown["daily_active_users October 2025"]["ratio"] == f"{fit['daily_active_users October 2025']['ratio']:.2f}"
    assert report["events"] > 100_000 and report["simulate_s"] + report["ingest_s"] < 20
    assert fit["downloads under 5 days"]["simulated"] <= 5
    assert 0.05 <= fit["retention_d1 launch cohort"]["simulated"] <= 0.2
    assert fit["retention_d7 launch cohort"]["simulated"] <= 0.05
    assert fit["retention_d30 launch cohort"]["simulated"] <= 0.03
    assert 0.5 <= fit["daily_active_users October 2025"]["ratio"] <= 2
    assert fit["ios_downloads first 7 days"]["simulated"] >= 627_000


def test_rerunning_a_scenario_replaces_its_events(metrics):
    first = metrics.simulate(scenario="x", scale=0.002, days=8, seed=1)
    second = metrics.simulate(scenario="x", scale=0.002, days=8, seed=1)
    with metrics.store.read() as cur:
        stored = cur.execute("SELECT count(*) FROM events WHERE source = 'sim:x'").fetchone()[0]
    assert stored == first["events"] == second["events"]
    assert metrics.delete_scenario(scenario="x")["deleted_events"] == stored


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"days": 0}, "days must be"), ({"scale": 5}, "scale must be"), ({"scenario": "a b"}, "name 'a b'"),
     ({"params": {"share_prob": 2}}, "share_prob must be"), ({"params": {"viral": 1}}, "unknown simulation")],
)
def test_bad_simulation_settings_are_refused(metrics, kwargs, message):
    with pytest.raises(InputError, match=message):
        metrics.simulate(**kwargs)


# --- imports ---------------------------------------------------------------------------------


def write_csv(path, text: str):
    path.write_text(text)
    return path


def test_import_csv_and_parquet(tmp_path, metrics):
    from sora_lab.metrics.importer import read_series_file

    csv = write_csv(tmp_path / "s.csv", "date,metric,value,source\n2025-10-01,downloads,107800,Appfigures\n"
                                        "2025-10-15,daily_active_users,\"110,000\",Business Insider\n")
    result = metrics.import_series(rows=read_series_file(csv))
    assert result["stored"] == 2
    table = pa.table({"date": ["2025-10-02"], "metric": ["downloads"], "value": [90000], "source": ["mine"],
                      "app": ["MyApp"]})
    pq.write_table(table, tmp_path / "s.parquet")
    metrics.import_series(rows=read_series_file(tmp_path / "s.parquet"))
    rows = metrics.external(metric="downloads")
    assert [(r["day"], r["app"], r["value"], r["source"]) for r in rows] == [
        ("2025-10-01", "Sora", 107800, "Appfigures"), ("2025-10-02", "MyApp", 90000, "mine")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,metric,value,source\n2025-10-01,downloads,1,x\n", "column 'date' is missing"),
        ("date,metric,value,source\n2025-10-01,downloads,1,x\n01/10/2025,downloads,2,x\n",
         "row 2: column 'date' = '01/10/2025' is not a date"),
        ("date,metric,value,source\n2025-10-01,downloads,-5,x\n", "row 1: column 'value' = '-5' must be a whole"),
        ("date,metric,value,source\n2025-10-01,downloads,lots,x\n", "row 1: column 'value' = 'lots' is not a number"),
        ("date,metric,value,source\n2025-10-01,Down Loads,1,x\n", "row 1: column 'metric'"),
        ("date,metric,value,source\n2025-10-01,downloads,1,\n", "row 1: column 'source' is empty"),
        ("date,metric,value,source\n2025-10-01,downloads,1,x\n2025-10-01,downloads,2,x\n", "row 2: duplicates row 1"),
    ],
)
def test_bad_import_names_row_and_column_and_stores_nothing(tmp_path, metrics, text, message):
    from sora_lab.metrics.importer import read_series_file

    path = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(InputError, match=message):
        metrics.import_series(rows=read_series_file(path))
    assert metrics.external() == []


def test_import_refuses_other_file_types(tmp_path):
    from sora_lab.metrics.importer import read_series_file

    with pytest.raises(InputError, match="unsupported file type '.xlsx'"):
        read_series_file(write_csv(tmp_path / "x.xlsx", "nope"))
    with pytest.raises(InputError, match="no such file"):
        read_series_file(tmp_path / "missing.csv")


# --- CLI and server ---------------------------------------------------------------------------


def test_cli_simulate_summary_series_import_json(home, tmp_path):
    sim = runner.invoke(app, ["metrics", "simulate", "--home", str(home), "--scale", "0.002", "--days", "10",
                              "--name", "cli", "--json"])
    assert sim.exit_code == 0, sim.output
    assert json.loads(sim.stdout)["source"] == "sim:cli"
    summary = runner.invoke(app, ["metrics", "summary", "--home", str(home), "--source", "sim:cli", "--json"])
    body = json.loads(summary.stdout)
    assert summary.exit_code == 0 and body["totals"]["downloads"] > 0 and "definition" in body
    series = runner.invoke(app, ["metrics", "series", "dau", "--home", str(home), "--source", "sim:cli", "--json"])
    assert len(json.loads(series.stdout)["rows"]) == 10
    csv = write_csv(tmp_path / "s.csv", "date,metric,value,source\n2025-10-01,downloads,5,me\n")
    imported = runner.invoke(app, ["metrics", "import", str(csv), "--home", str(home), "--json"])
    assert json.loads(imported.stdout)["stored"] == 1
    fit = runner.invoke(app, ["metrics", "fit", "--home", str(home), "--scenario", "cli"])
    assert fit.exit_code == 0, fit.output
    assert fit.stdout.startswith("sim:cli against public figures")
    assert "retention_d1 launch cohort" in fit.stdout and "10.0%" in fit.stdout and "627,000" in fit.stdout


def test_cli_errors_are_one_line_and_non_zero(home, tmp_path):
    bad = runner.invoke(app, ["metrics", "series", "users", "--home", str(home), "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["error"]["code"] == "invalid_input"
    assert "error: metric 'users' is not a series" in bad.stderr
    csv = write_csv(tmp_path / "b.csv", "date,metric\n2025-10-01,downloads\n")
    bad_import = runner.invoke(app, ["metrics", "import", str(csv), "--home", str(home)])
    assert bad_import.exit_code == 1 and bad_import.stderr.strip().count("\n") == 0
    assert "column 'value' is missing" in bad_import.stderr


def test_metrics_over_the_server_need_the_operator(server):
    with Lab.connect(server.url, home=server.home) as lab:
        assert lab.metrics.simulate(scenario="srv", scale=0.002, days=6)["events"] > 0
        assert lab.metrics.summary(sources=["sim:srv"])["totals"]["downloads"] > 0
        assert lab.metrics.reference()["figures"]
        with pytest.raises(Forbidden):
            lab.metrics.summary(as_user="maya")
    with Lab.connect(server.url, home=server.home, tokens={"lab": "slt_wrong"}) as stranger:
        with pytest.raises((AuthError, Forbidden)):
            stranger.metrics.summary()


@pytest.mark.parametrize("value, unit, text", [
    (56000.0, "downloads", "56,000"), (1334250.4, "users", "1,334,250"), (0.1253, "share", "12.5%"),
    (0.0191, "share", "1.9%"), (5.0, "days", "5 days"), (None, "users", "–"), (float("nan"), "share", "–"),
])
def test_fit_figures_are_shown_in_their_own_units(value, unit, text):
    assert format_figure(value, unit) == text
