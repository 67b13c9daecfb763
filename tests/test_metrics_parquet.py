"""Events exported as hive-partitioned Parquet: the layout, incremental and atomic per-day writes, and the
same summary (and DAU) computed over the files with DuckDB as in the lab."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from sora_lab.cli.main import app
from sora_lab.core.errors import Forbidden, InputError
from sora_lab.metrics import export as export_module
from sora_lab.metrics import parquet
from sora_lab.metrics.definitions import dau_sql
from sora_lab.metrics.service import MetricsService
from sora_lab.store.db import Store

D0 = datetime(2025, 9, 30)
COMPARED = ("daily", "totals", "retention", "funnel", "invites", "regions", "retention_matrix", "range")
TYPES = ["install", "view", "like", "invite_sent", "invite_redeemed", "generate", "session_start", "cameo_created"]


@pytest.fixture
def metrics(tmp_path):
    store = Store.open(None)
    service = MetricsService(store, tmp_path)
    service.simulate(scenario="t", scale=0.001, days=12)
    add_live(service, np.random.default_rng(1), 1500, first_day=0, days=10)
    yield service
    store.close()


def add_live(metrics: MetricsService, rng, n: int, first_day: int, days: int) -> None:
    rows = []
    for user, type_, second, region in zip(rng.integers(0, 200, size=n), rng.choice(TYPES, size=n),
                                           rng.integers(0, days * 86400, size=n), rng.choice(["US", "JP"], size=n),
                                           strict=True):
        target = f"u{rng.integers(0, user)}" if type_ == "invite_redeemed" and user else None
        rows.append((D0 + timedelta(days=first_day, seconds=int(second)), f"u{user}", str(type_), target,
                     str(region)))
    with metrics.store.write() as cur:
        cur.executemany("INSERT INTO events (ts, user_id, type, target_id, region) VALUES (?, ?, ?, ?, ?)", rows)


def same(a: dict, b: dict) -> None:
    for key in COMPARED:
        assert a[key] == b[key], key


def day_files(root) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*.parquet"))}


def test_export_layout_and_the_parquet_summary_equals_the_labs(metrics, tmp_path):
    out = tmp_path / "exp"
    report = metrics.export(directory=str(out))
    assert report["sources"] == ["live", "sim:t"] and report["unchanged_days"] == 0 and not report["removed"]
    files = day_files(out)
    assert len(files) == len(report["written"]) == 10 + 12
    assert "source=live/day=2025-09-30/part-0.parquet" in files
    assert "source=sim%3At/day=2025-10-11/part-0.parquet" in files  # Hive's escape of ':'
    assert not [p for p in out.rglob("*") if p.name.startswith("_staging") or p.suffix == ".tmp"]
    with metrics.store.read() as cur:
        assert report["events_written"] == cur.execute("SELECT count(*) FROM events").fetchone()[0]
    for kwargs in ({"sources": ["live"]}, {"sources": ["sim:t"]}, {"sources": ["live", "sim:t"]},
                   {"sources": ["live"], "regions": ["JP"], "start": "2025-10-02", "end": "2025-10-06"}):
        from_files = parquet.summary(str(out), **kwargs)
        assert from_files["path"] == "parquet"
        same(from_files, metrics.summary(**kwargs))
    same(parquet.summary(f"file://{out}", sources=["sim:t"]), metrics.summary(sources=["sim:t"]))


def test_dau_read_back_with_plain_duckdb_equals_the_labs(metrics, tmp_path):
    out = tmp_path / "exp"
    metrics.export(directory=str(out))
    con = duckdb.connect()
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{out}/*/*/*.parquet', hive_partitioning = true)")
    for source in ("live", "sim:t"):
        dau = {day.isoformat(): n for day, n in con.execute(dau_sql("events", source)).fetchall()}
        lab = {row["day"]: row["dau"] for row in metrics.summary(sources=[source])["daily"] if row["dau"]}
        assert dau == lab and len(dau) >= 10


def test_a_second_export_writes_only_new_and_changed_days(metrics, tmp_path):
    out = tmp_path / "exp"
    metrics.export(directory=str(out))
    before = day_files(out)
    again = metrics.export(directory=str(out))
    assert again["written"] == [] and again["unchanged_days"] == 22 and day_files(out) == before
    add_live(metrics, np.random.default_rng(2), 30, first_day=9, days=2)  # the newest live day, and a new one
    grown = metrics.export(directory=str(out))
    assert [(w["source"], w["day"]) for w in grown["written"]] == [("live", "2025-10-09"), ("live", "2025-10-10")]
    after = day_files(out)
    assert {k for k in after if after[k] != before.get(k)} == {"source=live/day=2025-10-09/part-0.parquet",
                                                              "source=live/day=2025-10-10/part-0.parquet"}
    same(parquet.summary(str(out)), metrics.summary())
    metrics.simulate(scenario="t", scale=0.001, days=8, seed=3)  # re-run: every day rewritten, four gone
    rerun = metrics.export(directory=str(out), sources=["sim:t"])
    assert len(rerun["written"]) == 8 and [r["day"] for r in rerun["removed"]] == [
        "2025-10-08", "2025-10-09", "2025-10-10", "2025-10-11"]
    same(parquet.summary(str(out), sources=["sim:t"]), metrics.summary(sources=["sim:t"]))
    metrics.delete_scenario(scenario="t")
    assert len(metrics.export(directory=str(out))["removed"]) == 8  # every source: the deleted one goes too
    assert not (out / "source=sim%3At").exists()


def test_a_day_is_replaced_atomically_and_a_failed_export_leaves_whole_days(metrics, tmp_path, monkeypatch):
    out = tmp_path / "exp"
    metrics.export(directory=str(out), sources=["live"])
    target = out / "source=live/day=2025-10-03/part-0.parquet"
    old_rows = duckdb.sql(f"SELECT count(*) FROM '{target}'").fetchall()[0][0]
    old_inode = target.stat().st_ino
    add_live(metrics, np.random.default_rng(5), 40, first_day=2, days=3)  # days 2, 3 and 4 change
    calls = []
    real_replace = os.replace

    def fail_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(export_module.os, "replace", fail_second)
    with pytest.raises(OSError, match="disk full"):
        metrics.export(directory=str(out), sources=["live"])
    monkeypatch.setattr(export_module.os, "replace", real_replace)
    assert duckdb.sql(f"SELECT count(*) FROM '{target}'").fetchall()[0][0] == old_rows  # the old day, whole
    assert not [p for p in out.rglob("*") if p.name.startswith("_staging") or p.suffix == ".tmp"]
    retry = metrics.export(directory=str(out), sources=["live"])
    assert [w["day"] for w in retry["written"]] == ["2025-10-02", "2025-10-03", "2025-10-04"]  # the manifest
    assert target.stat().st_ino != old_inode  # renamed over, not rewritten in place
    same(parquet.summary(str(out)), metrics.summary())


def test_remote_urls_go_through_fsspec(metrics, tmp_path):
    import fsspec

    out = tmp_path / "exp"
    metrics.export(directory=str(out))
    memory = fsspec.filesystem("memory")
    for path in out.rglob("*.parquet"):
        memory.pipe(f"/exported/{path.relative_to(out)}", path.read_bytes())
    same(parquet.summary("memory://exported", sources=["live", "sim:t"]),
         metrics.summary(sources=["live", "sim:t"]))
    with pytest.raises(InputError, match="no exported events of live"):
        parquet.summary("memory://nothing-here")


@pytest.mark.parametrize("directory, message", [
    ("", "give the folder"), ("exp\x00x", "control characters"), (7, "give the folder"),
])
def test_bad_export_folders_are_refused(metrics, directory, message):
    with pytest.raises(InputError, match=message):
        metrics.export(directory=directory)


def test_export_into_a_file_or_an_unknown_source_is_refused(metrics, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        metrics.export(directory=str(tmp_path / "f"))
    with pytest.raises(InputError, match="sources"):
        metrics.export(directory=str(tmp_path / "e"), sources=["../x"])
    with pytest.raises(InputError, match="run `sora-lab metrics export"):
        parquet.summary(str(tmp_path / "e"))


def test_export_through_the_server_is_for_the_operator_only(server, tmp_path):
    from sora_lab.lab import Lab

    with Lab.connect(server.url, home=server.home) as lab:
        lab.metrics.simulate(scenario="srv", scale=0.001, days=4)
        with pytest.raises(Forbidden):
            lab.metrics.export(directory=str(tmp_path / "x"), as_user="maya")
        assert not (tmp_path / "x").exists()
        report = lab.metrics.export(directory=str(tmp_path / "exp"), sources=["sim:srv"])
        assert len(report["written"]) == 4
        same(parquet.summary(str(tmp_path / "exp"), sources=["sim:srv"]), lab.metrics.summary(sources=["sim:srv"]))


def test_cli_export_and_summary_over_the_files(home, tmp_path):
    runner = CliRunner()
    sim = runner.invoke(app, ["metrics", "simulate", "--home", str(home), "--scale", "0.001", "--days", "6",
                              "--name", "cli", "--json"])
    assert sim.exit_code == 0, sim.output
    out = tmp_path / "exp"
    exported = runner.invoke(app, ["metrics", "export", str(out), "--home", str(home), "--json"])
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(exported.stdout)["written"]) == 6
    lab = runner.invoke(app, ["metrics", "summary", "--home", str(home), "--source", "sim:cli", "--json"])
    files = runner.invoke(app, ["metrics", "summary", "--parquet", str(out), "--source", "sim:cli", "--json"])
    assert files.exit_code == 0, files.output
    same(json.loads(files.stdout), json.loads(lab.stdout))
    human = runner.invoke(app, ["metrics", "export", str(out), "--home", str(home)])
    assert human.stdout.startswith("wrote 0 days (0 events), 6 unchanged, 0 removed")
    missing = runner.invoke(app, ["metrics", "summary", "--parquet", str(tmp_path / "none"), "--json"])
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"]["code"] == "invalid_input"


def test_a_damaged_file_is_a_one_line_error(metrics, tmp_path):
    out = tmp_path / "exp"
    metrics.export(directory=str(out), sources=["live"])
    (out / "source=live/day=2025-10-01/part-0.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="parquet: cannot read the files under"):
        parquet.summary(str(out))
