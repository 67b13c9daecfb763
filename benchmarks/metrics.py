"""Whole growth summary over N simulated events (default 100 M): DuckDB path vs a pandas version.

    python benchmarks/metrics.py                     # 100 M events (several GB of RAM, minutes to build)
    python benchmarks/metrics.py --events 2000000    # quick run

The events come from the rollout simulator (several full-size launches side by side, each its own
sim:bench<k> source) in a temporary lab. The DuckDB time is `lab.metrics.summary` end to end: both
SQL scans over the stored table plus the numpy roll-ups. The pandas version does the same two scans
with groupby on an in-memory DataFrame (categorical columns, already loaded — loading is not
timed, which favours pandas) and shares the roll-up code; the two results are checked equal.
Targets: summary <= 3 s on 2 cores and >= 10x faster than pandas.
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
from sora_lab.store.db import Store

EVENTS_PER_UNIT_SCALE = 33_700_000  # default 35-day launch at scale 1.0 (measured from scale 0.01 runs)
MAX_CHUNK_SCALE = 1.0


def build(store: Store, events: int, seed: int) -> tuple[list[str], float, int]:
    """Simulate enough launches to hold about `events` events; return their sources, ingest rate, rows."""
    chunks = max(1, math.ceil(events / (EVENTS_PER_UNIT_SCALE * MAX_CHUNK_SCALE)))
    scale = events / chunks / EVENTS_PER_UNIT_SCALE
    sources, rows, ingest_s = [], 0, 0.0
    for k in range(chunks):
        report = run_scenario(store, SimConfig(name=f"bench{k}", scale=scale, seed=seed + k))
        sources.append(report["source"])
        rows += report["events"]
        ingest_s += report["ingest_s"]
        print(f"  built {report['source']}: {report['events']:,} events "
              f"(simulate {report['simulate_s']:.1f} s, ingest {report['ingest_s']:.1f} s)", flush=True)
    store.checkpoint()
    return sources, rows / ingest_s, rows


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
    return queries._roll_up(out, rows, blocks, ndays, start.date())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000_000, help="about how many events (default 100 M)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="timed summary runs; the best is reported")
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit (the machine is shared)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-pandas", action="store_true", help="time only the DuckDB path")
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
        sources, ingest_rate, rows = build(store, args.events, args.seed)
        print(f"built {rows:,} events in {time.perf_counter() - t0:.1f} s (ingest {ingest_rate:,.0f} events/s)")
        filters = queries.make_filters(sources)
        timings = []
        for _ in range(args.repeat):
            with store.read() as cur:
                t = time.perf_counter()
                result = queries.compute(cur, filters)
                timings.append(time.perf_counter() - t)
        duck = min(timings)
        print(f"duckdb summary over {rows:,} events, {args.threads} threads: best {duck:.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in timings)})", flush=True)
        report = {"events": rows, "threads": args.threads, "duckdb_s": round(duck, 3),
                  "duckdb_runs_s": [round(x, 3) for x in timings], "ingest_events_per_s": int(ingest_rate),
                  "users": result["totals"]["installed_users"], "days": result["range"]["days"]}
        if not args.skip_pandas:
            t = time.perf_counter()
            df = load_frame(store, sources)
            load_s = time.perf_counter() - t
            start = pd.Timestamp(result["range"]["start"])
            t = time.perf_counter()
            expected = pandas_summary(df, start, result["range"]["days"])
            pandas_s = time.perf_counter() - t
            same = all(expected[k] == result[k] for k in ("daily", "totals", "retention", "funnel", "invites",
                                                          "regions", "retention_matrix"))
            print(f"pandas summary: {pandas_s:.2f} s (load into pandas {load_s:.1f} s, not counted); "
                  f"duckdb is {pandas_s / duck:.1f}x faster; results equal: {same}")
            report |= {"pandas_s": round(pandas_s, 3), "pandas_load_s": round(load_s, 1),
                       "speedup": round(pandas_s / duck, 1), "results_equal": same}
        report["targets_met"] = duck <= 3.0 and report.get("speedup", 10) >= 10
        if args.json:
            print(json.dumps(report))
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
