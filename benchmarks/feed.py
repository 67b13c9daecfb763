"""Feed benchmark: a synthetic lab with N videos and M events, then latency percentiles.

    python benchmarks/feed.py --videos 100000 --events 2000000          # default, a few minutes
    nice python benchmarks/feed.py --videos 1000000 --events 50000000   # the target size

Prints p50/p95/p99 (ms) for the first page, the next page (signed cursor, keyset on
the stored session), a steered first page and a like — in-process and over HTTP
through `sora-lab serve` — compares paging with a naive ORDER BY ... OFFSET query,
measures batched event ingest, and reports the DuckDB file size and RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sora_lab.consent.rules import cameo_visibility_sql  # noqa: E402
from sora_lab.core.home import save_credential  # noqa: E402
from sora_lab.core.ids import new_token, token_hash, utcnow  # noqa: E402
from sora_lab.feed.rank import WEIGHTS, base_score_sql, lab_priors  # noqa: E402
from sora_lab.feed.rebuild import rebuild_feed_tables  # noqa: E402
from sora_lab.lab import Lab  # noqa: E402
from sora_lab.services import Services  # noqa: E402
from sora_lab.store.db import Store  # noqa: E402

SUBJECTS = """ocean wave|spinning stars|red fox|neon street|ramen bowl|paper boat|hot air balloon|lighthouse|
cat on a piano|rainy window|desert dunes|northern lights|coral reef|city skyline|forest path|snowy mountain|
vintage car|skateboarder|jellyfish|sunflower field|thunderstorm|waterfall|robot dancing|koi pond|campfire|
subway train|origami crane|volcano|penguin|bicycle race|lantern festival|chess game|bakery oven|
astronaut|tiger|mountain lake|street market|rocket launch|sailboat|hummingbird""".replace("\n", "").split("|")
STYLES = """at sunset|at night|in slow motion|as claymation|in watercolor|in anime style|filmed on 16mm|
from a drone|in the rain|under neon light|in black and white|as a pixel art loop|at golden hour|
in fog|close-up|time-lapse|underwater|in a snow globe|with fireworks|as a miniature model""".replace(
    "\n", ""
).split("|")
STEERS = ["more ocean clips, fewer spinning stars", "more animals", "less rain, more sunsets",
          "more space and rockets", "no cats", "more food"]


def pct(samples: list[float]) -> dict:
    xs = sorted(samples)
    q = lambda p: xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]  # noqa: E731
    return {"n": len(xs), "p50": round(q(50), 2), "p95": round(q(95), 2), "p99": round(q(99), 2),
            "mean": round(statistics.fmean(xs), 2)}


def timed(fn):
    """(milliseconds, result) of one call."""
    t = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t) * 1000, result


def build(home: Path, n_videos: int, n_events: int, n_users: int, sample_users: int) -> dict:
    """Bulk-create users, videos, follows, events and likes with SQL, then the feed aggregates."""
    t0 = time.perf_counter()
    services = Services.open(home)
    lab = Lab(home, services=services)
    lab.admin.seed_demo()
    store = services.store
    now = utcnow()
    tokens: dict[str, str] = {}
    with store.write() as cur:
        cur.execute(
            "INSERT INTO users SELECT 'bu_' || i, 'bench' || i, NULL, CASE WHEN i % 3 = 0 THEN 'CA' ELSE 'US' END, "
            "?, ?, NULL, 0, NULL, false FROM range(?) t(i)",
            [now, now, n_users],
        )
        for i in range(sample_users):
            token = new_token()
            tokens[f"bench{i}"] = token
            cur.execute("UPDATE users SET token_hash = ? WHERE user_id = ?", [token_hash(token), f"bu_{i}"])
        cur.execute(
            "CREATE TEMP TABLE subj AS SELECT row_number() OVER () - 1 AS k, s FROM (SELECT unnest(?) AS s)",
            [SUBJECTS],
        )
        cur.execute(
            "CREATE TEMP TABLE sty AS SELECT row_number() OVER () - 1 AS k, s FROM (SELECT unnest(?) AS s)", [STYLES]
        )
        ns, nt = len(SUBJECTS), len(STYLES)
        cur.execute(
            f"""
            INSERT INTO videos
            SELECT left(sha256('v' || i::VARCHAR), 16), 'bu_' || (hash(i) % {n_users}),
                   'a ' || subj.s || ' ' || sty.s, i, 'bench', 'bench', 10000, 576, 1024,
                   'media/videos/' || left(sha256('v' || i::VARCHAR), 16) || '.mp4',
                   'media/posters/' || left(sha256('v' || i::VARCHAR), 16) || '.jpg', NULL,
                   CASE WHEN i % 100 = 7 THEN 'removed' WHEN i % 50 = 3 THEN 'draft' ELSE 'published' END,
                   CASE WHEN i % 20 = 5 AND i > 100 THEN left(sha256('v' || (i // 3)::VARCHAR), 16) END,
                   ts, ts
            FROM (SELECT i, ?::TIMESTAMP - to_seconds(30 * 86400 * (1 - i / {n_videos})::BIGINT) AS ts
                  FROM range({n_videos}) t(i))
            JOIN subj ON subj.k = hash(i * 7) % {ns} JOIN sty ON sty.k = hash(i * 13) % {nt}
            """,
            [now],
        )
        cur.execute(
            f"INSERT OR IGNORE INTO follows SELECT 'bu_' || (i // 10), 'bu_' || (hash(i) % {n_users}), ? "
            f"FROM range({n_users * 10}) t(i)",
            [now],
        )
        cur.execute(
            "CREATE TABLE bench_vidx AS SELECT row_number() OVER (ORDER BY published_at DESC) - 1 AS idx, video_id "
            "FROM videos WHERE status = 'published'"
        )
    built_rows = time.perf_counter() - t0
    with store.read() as cur:
        n_pub = cur.execute("SELECT count(*) FROM bench_vidx").fetchall()[0][0]
    chunk = 5_000_000
    for start in range(0, n_events, chunk):
        stop = min(n_events, start + chunk)
        with store.write() as cur:
            # Popularity is skewed towards newer videos (power law on the recency index);
            # watch time depends on a per-video 'quality' so engagement differs between videos.
            cur.execute(
                f"""
                INSERT INTO events (ts, user_id, type, video_id, region, watch_ms, source)
                SELECT ?::TIMESTAMP - to_seconds((random() * 86400 * 30)::BIGINT), 'bu_' || ui,
                       CASE WHEN x < 0.9 THEN 'view' WHEN x < 0.93 THEN 'share' ELSE 'like' END, vidx.video_id, 'US',
                       CASE WHEN x < 0.9 THEN least(10000, ((0.3 + 0.7 * ((vi * 2654435761) % 1000) / 1000.0)
                                                           * random() * 14000)::INTEGER) END,
                       'sim:bench'
                FROM (SELECT floor(pow(random(), 3) * {n_pub})::BIGINT AS vi,
                             floor(random() * {n_users})::BIGINT AS ui, random() AS x
                      FROM range({stop - start}) t(i)) r
                JOIN bench_vidx vidx ON vidx.idx = r.vi
                """,
                [now],
            )
        print(f"  events {stop:,}/{n_events:,}", flush=True)
    with store.write() as cur:
        cur.execute("INSERT OR IGNORE INTO likes SELECT user_id, video_id, min(ts) FROM events "
                    "WHERE type = 'like' AND source = 'sim:bench' GROUP BY ALL")
        cur.execute("DROP TABLE bench_vidx")
    t1 = time.perf_counter()
    sync = lab.feed.sync()
    t2 = time.perf_counter()
    rebuilt = rebuild_feed_tables(store, source="sim:bench")
    t3 = time.perf_counter()
    store.checkpoint()
    for handle, token in tokens.items():
        save_credential(home, handle, token)
    lab.close()
    return {"rows_s": round(built_rows, 1), "events_s": round(t1 - t0 - built_rows, 1),
            "sync_and_embed_s": round(t2 - t1, 1), "rebuild_s": round(t3 - t2, 1), "sync": sync,
            "rebuild": rebuilt, "published_videos": n_pub}


def measure(lab: Lab, users: list[str], samples: int, pages: int, rng: random.Random) -> dict:
    first, nxt, steered, likes = [], [], [], []
    liked_candidates: list[tuple[str, str]] = []
    for n in range(samples):
        user = users[n % len(users)]
        ms, result = timed(lambda u=user: lab.feed.page(as_user=u, limit=10))
        first.append(ms)
        cursor = result["next_cursor"]
        liked_candidates.append((user, result["items"][0]["video_id"]))
        for _ in range(pages):
            ms, page = timed(lambda u=user, c=cursor: lab.feed.page(as_user=u, cursor=c, limit=10))
            nxt.append(ms)
            cursor = page["next_cursor"]
        steer = STEERS[n % len(STEERS)]
        steered.append(timed(lambda u=user, s=steer: lab.feed.page(as_user=u, limit=10, steer=s))[0])
    for user, video in liked_candidates:
        event = {"type": "like", "video_id": video, "client_event_id": secrets.token_hex(8)}
        likes.append(timed(lambda u=user, e=event: lab.engagement.record(as_user=u, events=[e]))[0])
    return {"first_page": pct(first), "next_page": pct(nxt), "steered_page": pct(steered), "like": pct(likes)}


def measure_offset(store: Store, user_id: str, pages: int) -> dict:
    """The naive alternative: score every video per request and skip with OFFSET."""
    with store.read() as cur:
        priors = lab_priors(cur)
    recency, engagement = base_score_sql(WEIGHTS, priors)
    query = f"""
        SELECT s.video_id FROM feed_video_stats s JOIN videos v ON v.video_id = s.video_id
        WHERE v.status = 'published' AND s.published_at <= $snap
          AND s.author_id NOT IN (SELECT blocked_id FROM feed_blocks WHERE user_id = $viewer)
          AND {cameo_visibility_sql('v')}
        ORDER BY {recency} + {engagement} DESC, s.video_id LIMIT 10 OFFSET $offset"""
    snap = utcnow()
    times = []
    for page in range(1, pages + 1):
        with store.read() as cur:
            times.append(timed(lambda c=cur, p=page: c.execute(
                query, {"snap": snap, "viewer": user_id, "offset": p * 10}).fetchall())[0])
    return pct(times)


def measure_ingest(lab: Lab, store: Store, users: list[str], video_ids: list[str], batches: int, batch: int,
                   rng) -> dict:
    """Batched views (plus some likes and shares) over `video_ids`, popularity ~ 1/rank as in a real feed.

    Wall time includes every fold of the queued signals that `record` triggers, the final fold
    of what is left and a full checkpoint (merging DuckDB's write-ahead log into the file), so
    the rate is what the aggregates and the file can sustain. The process's first batch also
    loads the published-video snapshot (once per server process); it is timed and reported
    apart, like the feed's text-encoder warm-up.
    """
    weights = [1 / (rank + 1) for rank in range(len(video_ids))]
    total, elapsed, per_batch = 0, 0.0, []

    def one_batch(b: int) -> float:
        picks = rng.choices(video_ids, weights, k=batch)
        events = [{"type": "view", "video_id": v, "watch_ms": rng.randint(0, 10_000),
                   "client_event_id": secrets.token_hex(8)} for v in picks]
        for e in events[::20]:  # 5% likes and shares
            e["type"] = rng.choice(["like", "share"])
            del e["watch_ms"]
        return timed(lambda: lab.engagement.record(as_user=users[b % len(users)], events=events))[0]

    first_ms = one_batch(0)
    for b in range(1, batches + 1):
        ms = one_batch(b)
        per_batch.append(ms)
        elapsed += ms / 1000
        total += batch
    fold_ms, folded = timed(lab.feed.sync)
    checkpoint_ms = timed(store.checkpoint)[0]  # the log merge these writes owe, counted in full
    elapsed += (fold_ms + checkpoint_ms) / 1000
    return {"events": total, "batch": batch, "distinct_videos": len(video_ids), "events_per_s": round(total / elapsed),
            "first_batch_ms": round(first_ms),
            "batch_ms": pct(per_batch), "final_fold_ms": round(fold_ms), "final_fold_signals": folded["signals_folded"],
            "checkpoint_ms": round(checkpoint_ms)}


def file_size(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("lab.duckdb*"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--samples", type=int, default=60, help="first/steered pages and likes per mode")
    ap.add_argument("--pages", type=int, default=5, help="next pages per sampled session")
    ap.add_argument("--home", type=Path, default=None, help="keep the lab here (default: a temporary folder)")
    ap.add_argument("--no-http", action="store_true", help="skip the over-HTTP measurements")
    ap.add_argument("--reuse", action="store_true", help="measure a lab built earlier in --home (skip the build)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    rng = random.Random(7)
    home = args.home or Path(tempfile.mkdtemp(prefix="sora-feed-bench-"))
    home.mkdir(parents=True, exist_ok=True)
    report: dict = {"videos": args.videos, "events": args.events, "users": args.users, "cores": os.cpu_count()}
    try:
        if args.reuse:
            if args.home is None or not (home / "lab.duckdb").exists():
                sys.exit("error: --reuse needs --home pointing at a lab this script built before")
            report["build"] = "reused"
            with closing(Services.open(home)) as services, services.store.read() as cur:  # what is there, not the flags
                report |= dict(zip(("videos", "events", "users"), cur.execute(
                    "SELECT (SELECT count(*) FROM videos), (SELECT count(*) FROM events), "
                    "(SELECT count(*) FROM users)").fetchall()[0], strict=True))
        else:
            print(f"building {args.videos:,} videos / {args.events:,} events in {home}", flush=True)
            report["build"] = build(home, args.videos, args.events, args.users, sample_users=args.samples)
            print(f"  built: {report['build']}", flush=True)
        users = [f"bench{i}" for i in range(args.samples)]
        proc = psutil.Process()
        services = Services.open(home)
        lab = Lab(home, services=services)
        report["file_bytes_after_build"] = file_size(home)
        lab.feed.page(as_user=users[0], limit=1)  # load the text encoder once
        lab.feed.page(as_user=users[0], limit=1, steer="warm up")
        report["in_process"] = measure(lab, users, args.samples, args.pages, rng)
        report["in_process"]["offset_naive"] = measure_offset(services.store, "bu_0", args.pages * 4)
        print(f"  in-process: {json.dumps(report['in_process'])}", flush=True)
        with services.store.read() as cur:
            video_ids = [r[0] for r in cur.execute(
                "SELECT video_id FROM videos WHERE status = 'published' USING SAMPLE 50000").fetchall()]
        report["ingest"] = measure_ingest(lab, services.store, users, video_ids, batches=100, batch=5000, rng=rng)
        report["rss_in_process_mb"] = round(proc.memory_info().rss / 2**20)
        lab.close()
        report["file_bytes"] = file_size(home)
        if not args.no_http:
            report["http"] = measure_http(home, users, args, rng)
        report["file_bytes_final"] = file_size(home)
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(report, indent=None if args.json else 2))


def measure_http(home: Path, users: list[str], args, rng) -> dict:
    server, url = start_server(home)
    try:
        lab = Lab.connect(url, home=home)
        lab.feed.page(as_user=users[0], limit=1)
        lab.feed.page(as_user=users[0], limit=1, steer="warm up")
        result = measure(lab, users, args.samples, args.pages, rng)
        result["server_rss_mb"] = round(psutil.Process(server.pid).memory_info().rss / 2**20)
        lab.close()
    finally:
        server.terminate()
        server.wait(timeout=120)
    return result


def start_server(home: Path, timeout: float = 300) -> tuple[subprocess.Popen, str]:
    """The lab server in a child process (what `sora-lab serve` runs) on a free port."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"from pathlib import Path; from sora_lab.api.server import serve; serve(Path({str(home)!r}), port={port})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise subprocess.SubprocessError(f"lab server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.terminate()
    raise subprocess.SubprocessError(f"lab server did not answer within {timeout}s")


if __name__ == "__main__":
    try:
        main()
    except subprocess.SubprocessError as exc:
        sys.exit(f"error: {exc}")
