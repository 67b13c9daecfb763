"""The events table as hive-partitioned Parquet: DIR/source=<source>/day=<YYYY-MM-DD>/part-0.parquet.

The files hold the lab's `events` columns as they are (ts is UTC without a zone; user_id, type, video_id,
target_id, region, watch_ms, props), partitioned by source and UTC day, so DuckDB, Spark SQL and
ClickHouse read them directly (docs/metrics.md). Partition values are escaped as Hive does
(`sim:default` -> `sim%3Adefault`); every reader named there decodes them.

Incremental: DIR/_sora_lab_export.json keeps each exported day's fingerprint (its event count and a
checksum for live days, the rollup's build time for simulated ones, a checksum for the rest). An
export writes only the days whose fingerprint changed — new days, today's growing day, a re-simulated
scenario — and removes the days it wrote before that the lab no longer holds. Atomic per day: one
scan per source writes the changed days into a staging folder beside them (`_staging-*`, which Parquet
readers skip), then each day's file is renamed over the old one, so a reader sees a whole old day or a
whole new one. The manifest is written last: after a crash the next export rewrites those days again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from sora_lab.core.errors import InputError
from sora_lab.core.home import write_json_atomic
from sora_lab.metrics import rollup
from sora_lab.metrics.live import CHECKSUM
from sora_lab.metrics.queries import make_filters

MANIFEST = "_sora_lab_export.json"
COLUMNS = "ts, user_id, type, video_id, target_id, region, watch_ms, props"
DAYS_PER_SCAN = 64  # DuckDB keeps a file open per partition it writes; more would split a day into parts
_EPOCH = date(1970, 1, 1)


def export_events(store, directory: str | Path, sources: list[str] | str | None = None) -> dict:
    """Write the changed (source, day) partitions of `sources` under `directory`. Default: every source the
    lab holds, and the days of sources it no longer holds (a deleted scenario) are removed too."""
    started = time.perf_counter()
    root = _check_directory(directory)
    manifest = _read_manifest(root)
    with store.read() as cur:
        if sources is None:
            held = [r[0] for r in cur.execute("SELECT DISTINCT source FROM events").fetchall()]
            sources = sorted(set(held) | set(manifest))
        chosen = make_filters(sources).sources if sources else ()
        wanted = _fingerprints(cur, chosen)
    written, removed, unchanged = [], [], 0
    for source in chosen:
        done = manifest.setdefault(source, {})
        days = {day: fp for (s, day), fp in wanted.items() if s == source}
        changed = sorted(d for d, fp in days.items()
                         if done.get(d.isoformat()) != fp[1] or not _file(root, source, d).exists())
        unchanged += len(days) - len(changed)
        for group in range(0, len(changed), DAYS_PER_SCAN):
            for day in _write_days(store, root, source, changed[group:group + DAYS_PER_SCAN]):
                done[day.isoformat()] = days[day][1]
                written.append({"source": source, "day": day.isoformat(), "events": days[day][0]})
        for stale in sorted(set(done) - {d.isoformat() for d in days}):  # days this export wrote, now gone
            path = _file(root, source, date.fromisoformat(stale))
            path.unlink(missing_ok=True)
            _remove_empty(path.parent, root)
            del done[stale]
            removed.append({"source": source, "day": stale})
    write_json_atomic(root / MANIFEST, {s: dict(sorted(d.items())) for s, d in manifest.items() if d})
    return {"directory": str(root), "sources": list(chosen), "written": written, "unchanged_days": unchanged,
            "removed": removed, "events_written": sum(w["events"] for w in written),
            "elapsed_s": round(time.perf_counter() - started, 3)}


def partition(source: str, day: date | None = None) -> str:
    """The relative folder of a source (and day), escaped as Hive escapes partition values."""
    folder = "source=" + source.replace("%", "%25").replace(":", "%3A").replace("/", "%2F").replace("=", "%3D")
    return folder if day is None else f"{folder}/day={day.isoformat()}"


def _file(root: Path, source: str, day: date) -> Path:
    return root / partition(source, day) / "part-0.parquet"


def _check_directory(directory) -> Path:
    if not isinstance(directory, str | Path) or not str(directory).strip():
        raise InputError("directory: give the folder to export into, e.g. exports/events")
    text = str(directory)
    if len(text) > 4096 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InputError("directory: at most 4096 characters and no control characters")
    root = Path(text).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise InputError(f"directory: {root} is a file; give a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"directory: cannot create {root} ({exc.strerror}); choose a writable folder") from None
    if not os.access(root, os.W_OK):
        raise InputError(f"directory: {root} is not writable; choose a writable folder")
    return root


def _read_manifest(root: Path) -> dict[str, dict[str, str]]:
    """{source: {day: fingerprint}} of the days written before; what is unreadable is written again."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (FileNotFoundError, ValueError, OSError):
        return {}
    if not isinstance(manifest, dict):
        return {}
    kept = {}
    for source, days in manifest.items():
        try:
            make_filters([source])
            kept[source] = {date.fromisoformat(d).isoformat(): str(fp) for d, fp in days.items()}
        except (InputError, ValueError, TypeError, AttributeError):
            continue
    return kept


def _fingerprints(cur, sources: tuple[str, ...]) -> dict[tuple[str, date], tuple[int, str]]:
    """{(source, day): (events, fingerprint)} of every day the sources hold. From the rollups where they are
    current (live: the day's count and checksum as folded by the caller just before; simulated: per-day
    counts and the build time of a source only ever replaced whole), else one pass over the source's events
    (live's fingerprint is then the same count and checksum)."""
    out = {}
    for source in sources:
        if source == "live":
            rows = cur.execute("SELECT day, events, checksum FROM metric_live_days").fetchall()
            total = cur.execute("SELECT count(*) FROM events WHERE source = 'live'").fetchone()[0]
            if sum(n for _, n, _ in rows) == total:
                out |= {(source, _EPOCH + timedelta(days=d)): (n, f"{n}:{c}") for d, n, c in rows}
                continue
        elif rollup.covered(cur, (source,)):
            built = cur.execute("SELECT built_at FROM metric_sources WHERE source = ?", [source]).fetchone()[0]
            rows = cur.execute("SELECT day, CAST(sum(n) AS BIGINT) FROM metric_daily WHERE source = ? GROUP BY day",
                               [source]).fetchall()
            out |= {(source, _EPOCH + timedelta(days=d)): (n, f"{n}@{built.isoformat()}") for d, n in rows}
            continue
        rows = cur.execute(f"SELECT CAST(ts AS DATE), count(*), {CHECKSUM} FROM events WHERE source = ? GROUP BY 1",
                           [source]).fetchall()
        out |= {(source, day): (n, f"{n}:{c}") for day, n, c in rows}
    return out


def _write_days(store, root: Path, source: str, days: list[date]) -> list[date]:
    """The source's events of these days, from the lab (see `write_days`)."""
    query = (f"SELECT {COLUMNS}, CAST(ts AS DATE) AS day FROM events WHERE source = ? AND ts >= ? AND ts < ? "
             f"AND CAST(ts AS DATE) IN (SELECT unnest(?::DATE[]))")
    params = [source, datetime.combine(days[0], datetime.min.time()),
              datetime.combine(days[-1] + timedelta(days=1), datetime.min.time()), days]
    with store.read() as cur:
        return write_days(cur, query, params, root, source, days)


def write_days(cur, query: str, params: list, root: Path, source: str, days: list[date]) -> list[date]:
    """One scan of `query` (COLUMNS and `day`) writes these days of `source` into a staging folder; each day's
    file then replaces the old one by a rename. Returns the days written (a day whose events were all
    deleted meanwhile has no file to write)."""
    staging = root / f"_staging-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        options = ("FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), "
                   "FILE_EXTENSION 'tmp', FILENAME_PATTERN 'part-{i}'")
        cur.execute(f"COPY ({query}) TO '{_sql_path(staging)}' ({options})", params)
        written = []
        for day in days:
            staged = staging / f"day={day.isoformat()}" / "part-0.tmp"
            if not staged.exists():
                continue
            with open(staged, "rb") as f:
                os.fsync(f.fileno())  # on disk before it replaces the old day
            target = _file(root, source, day)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
            written.append(day)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _remove_empty(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
