"""Whole growth summary over N simulated events (default 20 M; the target is stated at 100 M).

    python benchmarks/metrics.py                          # 20 M events, a few minutes
    nice -n 5 python benchmarks/metrics.py --events 100000000 --repeat 1   # the target size

The events come from the rollout simulator (several full-size launches side by side, each its own
sim:bench<k> source) in a temporary lab. Reported:
  (a) rollup summary: `queries.compute` end to end — reads the per-user rollup (metric_users, about one
      row per user) and metric_daily, checks the rollup is current, then the numpy roll-ups;
  (b) ingest: events written and the rollup built in the same transaction (events/s, rollup share);
  (c) raw summary: `queries.compute_raw`, DuckDB over the raw events (one GROUP BY user, one by day);
  (d) pandas: the same summary from raw events with groupby on an in-memory DataFrame (categorical
      columns, already loaded — loading is not timed, which favours pandas), sharing the roll-up code.
pandas runs on the first sources holding at most --pandas-events events (it needs the whole frame in
memory); (a) and (c) are timed again on exactly those sources, and all three results are checked equal.
Targets: whole summary (a) <= 3 s on 2 cores at 100 M events; (a) >= 10x faster than (d) on the same
events. The raw DuckDB path (c) is printed so the rollup's gain over plain DuckDB is visible too.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from sora_lab.metrics import queries
from sora_lab.metrics.simulate import SimConfig, run_scenario
from sora_lab.metrics.summary import summarize
from sora_lab.store.db import Store

EVENTS_PER_UNIT_SCALE = 33_700_000  # default 35-day launch at scale 1.0 (measured from scale 0.01 runs)
MAX_CHUNK_SCALE = 1.0


def build(store: Store, events: int, seed: int) -> tuple[list[tuple[str, int]], dict]:
    """Simulate enough launches to hold about `events` events; return [(source, events)] and ingest timings."""
    chunks = max(1, math.ceil(events / (EVENTS_PER_UNIT_SCALE * MAX_CHUNK_SCALE)))
    scale = events / chunks / EVENTS_PER_UNIT_SCALE
    sources, ingest_s, rollup_s = [], 0.0, 0.0
    for k in range(chunks):
        report = run_scenario(store, SimConfig(name=f"bench{k}", scale=scale, seed=seed + k))
        sources.append((report["source"], report["events"]))
        ingest_s += report["ingest_s"]
        rollup_s += report["rollup_s"]
        print(f"  built {report['source']}: {report['events']:,} events "
              f"(simulate {report['simulate_s']:.1f} s, ingest {report['ingest_s']:.1f} s "
              f"of which rollup {report['rollup_s']:.1f} s)", flush=True)
    store.checkpoint()
    rows = sum(n for _, n in sources)
    return sources, {"ingest_s": ingest_s, "ingest_rollup_s": rollup_s, "ingest_events_per_s": int(rows / ingest_s),
                     "rollup_events_per_s": int(rows / rollup_s)}


def load_frame(store: Store, sources: list[str]) -> pd.DataFrame:
    """The events as a pandas DataFrame with categorical string columns (the memory-friendly layout)."""
    with store.read() as cur:
        table = cur.sql(
            "SELECT ts, user_id, type, target_id, region FROM events WHERE source IN (SELECT unnest($sources))",
            params={"sources": sources},
        ).to_arrow_table()
    for name in ("user_id", "type", "target_id", "region"):
        table = table.set_column(table.schema.get_field_index(name), name, pc.dictionary_encode(table[name]))
    return table.to_pandas()


def pandas_summary(df: pd.DataFrame, start: pd.Timestamp, ndays: int) -> dict:
    """The same metrics as queries.compute, with the two scans done by pandas groupby."""
    off = ((df["ts"] - start) // pd.Timedelta(days=1)).to_numpy().astype(np.int64)
    type_ = df["type"]
    blocks = (ndays + 63) // 64
    has_user = df["user_id"].notna().to_numpy()
    codes = df["user_id"].cat.codes.to_numpy()
    names = df["user_id"].cat.categories

    def first_day(mask: np.ndarray) -> pd.Series:
        sel = mask & has_user
        return pd.Series(off[sel]).groupby(codes[sel]).min()

    user_index = np.unique(codes[has_user])
    out = {"idx": np.arange(user_index.size)}
    for column, kind in (("install_off", "install"), ("redeem_off", "invite_redeemed"), ("view_off", "view"),
                         ("gen_off", "generate"), ("cameo_off", "cameo_created")):
        series = first_day((type_ == kind).to_numpy())
        out[column] = np.ma.masked_less(series.reindex(user_index).fillna(-1).to_numpy().astype(np.int64), 0)
    active = type_.isin(queries.ACTIVE_TYPES).to_numpy() & has_user
    out["active_off"] = np.ma.masked_less(first_day(active).reindex(user_index).fillna(-1).to_numpy()
                                          .astype(np.int64), 0)
    gens = (type_ == "generate").to_numpy() & has_user
    out["generations"] = pd.Series(1, index=codes[gens]).groupby(level=0).sum().reindex(user_index).fillna(0) \
        .to_numpy().astype(np.int64)
    red = (type_ == "invite_redeemed").to_numpy() & has_user
    redeemed = pd.DataFrame({"u": codes[red], "ts": df["ts"].to_numpy()[red], "t": df["target_id"].to_numpy()[red]})
    inviter = redeemed.sort_values("ts").groupby("u")["t"].first().reindex(user_index)
    rows = pd.Index(np.asarray(names[user_index], dtype=object))
    parent = rows.get_indexer(inviter.to_numpy(dtype=object))
    is_member = out["redeem_off"].filled(-1) >= 0
    out["parent"] = np.where((parent >= 0) & is_member[np.maximum(parent, 0)], parent, -1)
    inst = (type_ == "install").to_numpy() & has_user
    region = pd.Series(df["region"].to_numpy()[inst], dtype="string").groupby(codes[inst]).min()
    region = region.reindex(user_index)
    code = {r: ord(r[0]) * 256 + ord(r[1]) if len(r) == 2 else -2 for r in region.dropna().unique()}
    out["region_code"] = region.map(code).fillna(-1).to_numpy().astype(np.int64)
    pairs = pd.DataFrame({"u": codes[active], "d": off[active]}).drop_duplicates()
    for b in range(blocks):
        part = pairs[pairs["d"] // 64 == b]
        bits = np.left_shift(np.uint64(1), (part["d"].to_numpy() % 64).astype(np.uint64))
        summed = pd.Series(bits, index=part["u"].to_numpy()).groupby(level=0).sum()  # distinct bits: sum == OR
        out[f"m{b}"] = summed.reindex(user_index).fillna(0).to_numpy().astype(np.uint64)
    counted = type_.isin(["install", "generate", "invite_sent", "invite_redeemed"]).to_numpy()
    daily = pd.DataFrame({"off": off[counted], "type": np.asarray(type_.to_numpy()[counted], dtype=object),
                          "anon": ~has_user[counted]})
    grouped = daily.groupby(["off", "type"]).agg(n=("anon", "size"), anonymous=("anon", "sum")).reset_index()
    rows = [(int(o), t, int(n), int(a)) for o, t, n, a in grouped.itertuples(index=False)]
    return summarize(out, rows, blocks, ndays, start.date())


COMPARED = ("daily", "totals", "retention", "funnel", "invites", "regions", "retention_matrix")


def timed(store: Store, fn, filters, repeat: int) -> tuple[dict, list[float]]:
    """Best-of-`repeat` wall time of one summary function."""
    timings, result = [], None
    for _ in range(repeat):
        with store.read() as cur:
            t = time.perf_counter()
            result = fn(cur, filters)
            timings.append(time.perf_counter() - t)
    return result, timings


def same(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] for k in COMPARED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000, help="about how many events (default 20 M)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="timed rollup summaries; the best is reported")
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit (the machine is shared)")
    parser.add_argument("--pandas-events", type=int, default=40_000_000,
                        help="pandas (and the comparison) uses the first sources holding at most this many events")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-pandas", action="store_true", help="skip (d) and the subset comparison")
    parser.add_argument("--skip-raw", action="store_true", help="skip (c) over all events (slow at 100 M)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sora-bench-"))
    try:
        store = Store.open(workdir / "lab.duckdb")
        with store.read() as cur:
            cur.execute(f"SET threads = {int(args.threads)}")
            cur.execute("SET memory_limit = ?", [args.memory_limit])
        print(f"building ~{args.events:,} events in {workdir} ...", flush=True)
        t0 = time.perf_counter()
        built, ingest = build(store, args.events, args.seed)
        rows = sum(n for _, n in built)
        sources = [s for s, _ in built]
        print(f"(b) built {rows:,} events in {time.perf_counter() - t0:.1f} s; ingest {ingest['ingest_s']:.1f} s = "
              f"{ingest['ingest_events_per_s']:,} events/s, of which the rollup {ingest['ingest_rollup_s']:.1f} s "
              f"({ingest['rollup_events_per_s']:,} events/s)", flush=True)
        filters = queries.make_filters(sources)
        result, runs = timed(store, queries.compute, filters, args.repeat)
        assert result["path"] == "rollup", "the summary did not read the rollup"
        fast = min(runs)
        print(f"(a) rollup summary over {rows:,} events ({result['totals']['installed_users']:,} users), "
              f"{args.threads} threads: best {fast:.2f} s (runs: {', '.join(f'{x:.2f}' for x in runs)})", flush=True)
        report = {"events": rows, "threads": args.threads, "users": result["totals"]["installed_users"],
                  "days": result["range"]["days"], "rollup_s": round(fast, 3),
                  "rollup_runs_s": [round(x, 3) for x in runs],
                  **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in ingest.items()}}
        if not args.skip_raw:
            raw, raw_runs = timed(store, queries.compute_raw, filters, 1)
            equal = same(raw, result)
            print(f"(c) raw-event DuckDB summary over {rows:,} events: {raw_runs[0]:.2f} s "
                  f"({raw_runs[0] / fast:.1f}x the rollup's time); results equal: {equal}", flush=True)
            report |= {"raw_s": round(raw_runs[0], 3), "raw_equal": equal}
        if not args.skip_pandas:
            subset, held = [], 0
            for source, n in built:
                if subset and held + n > args.pandas_events:
                    break
                subset.append(source)
                held += n
            sub_filters = queries.make_filters(subset)
            sub_fast, sub_runs = timed(store, queries.compute, sub_filters, args.repeat)
            sub_raw, sub_raw_runs = timed(store, queries.compute_raw, sub_filters, 1)
            t = time.perf_counter()
            df = load_frame(store, subset)
            load_s = time.perf_counter() - t
            start = pd.Timestamp(sub_fast["range"]["start"])
            t = time.perf_counter()
            expected = pandas_summary(df, start, sub_fast["range"]["days"])
            pandas_s = time.perf_counter() - t
            del df
            equal = same(expected, sub_fast) and same(sub_raw, sub_fast)
            speedup = pandas_s / min(sub_runs)
            print(f"(d) pandas summary over {held:,} events ({len(subset)} of {len(built)} sources): {pandas_s:.2f} s "
                  f"(load into pandas {load_s:.1f} s, not counted); on the same events the rollup summary takes "
                  f"{min(sub_runs):.2f} s = {speedup:.1f}x faster than pandas, raw DuckDB {sub_raw_runs[0]:.2f} s = "
                  f"{pandas_s / sub_raw_runs[0]:.1f}x; pandas, rollup and raw results equal: {equal}", flush=True)
            report |= {"pandas_events": held, "pandas_s": round(pandas_s, 3), "pandas_load_s": round(load_s, 1),
                       "subset_rollup_s": round(min(sub_runs), 3), "subset_raw_s": round(sub_raw_runs[0], 3),
                       "speedup_vs_pandas": round(speedup, 1), "results_equal": equal}
        report["targets_met"] = {
            "rollup_summary_le_3s": fast <= 3.0,
            "rollup_ge_10x_pandas_same_events": report["speedup_vs_pandas"] >= 10 if "speedup_vs_pandas" in report
            else None,
        }
        print("targets (the 10x compares (a) with (d) on the same events):", report["targets_met"])
        if args.json:
            print(json.dumps(report))
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
