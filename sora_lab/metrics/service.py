"""`lab.metrics.*`: growth metrics, the rollout simulator and imported series, as JSON-ready results.

Reads aggregate in DuckDB and return at most a few thousand rows, so a dashboard can call them
over HTTP while the server owns the lab file. Scenario settings are kept in the lab home
(scenarios.json) so `fit` can scale a stored scenario back to full size.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sora_lab.core.errors import InputError, NotFound
from sora_lab.core.home import read_json, write_json_atomic
from sora_lab.core.ids import iso_utc, utcnow
from sora_lab.metrics import live, queries
from sora_lab.metrics.definitions import ACTIVE_TYPES, ACTIVE_USER_DEFINITION
from sora_lab.metrics.export import export_events
from sora_lab.metrics.importer import validate_rows
from sora_lab.metrics.reference import fit, load_reference, reference_points
from sora_lab.metrics.rollup import drop_source
from sora_lab.metrics.simulate import SCENARIOS_FILE, SimConfig, remember_scenario, run_scenario
from sora_lab.store.db import Store

MINE_MAX_DAYS = 90  # a member's own activity: at most 90 days x 24 hours x a few event types of rows


class MetricsService:
    def __init__(self, store: Store, home: Path):
        self.store = store
        self.home = home

    # --- reads -------------------------------------------------------------------
    def summary(
        self,
        *,
        sources: list[str] | str | None = None,
        start: str | None = None,
        end: str | None = None,
        regions: list[str] | str | None = None,
    ) -> dict:
        """Every metric for the chosen sources (default: live events only), days and regions.
        Live events are folded into their rollup first (only the days that changed), so no path
        of the summary scans raw events while every chosen source has a rollup."""
        filters = queries.make_filters(sources, start, end, regions)
        if "live" in filters.sources:
            self.fold_live()
        with self.store.read() as cur:
            return queries.compute(cur, filters)

    def fold_live(self) -> dict:
        """Fold new or changed live events into the rollup (see metrics.live); what was refolded."""
        with self.store.write() as cur:
            return live.fold(cur)

    def series(
        self,
        *,
        metric: str,
        sources: list[str] | str | None = None,
        start: str | None = None,
        end: str | None = None,
        regions: list[str] | str | None = None,
    ) -> dict:
        """One daily series ({day, value} rows) with the definitions it was computed under."""
        if metric not in queries.SERIES:
            raise InputError(f"metric {metric!r} is not a series; choose one of: {', '.join(queries.SERIES)}")
        result = self.summary(sources=sources, start=start, end=end, regions=regions)
        return {"metric": metric, "rows": queries.series(result, metric), "filters": result["filters"],
                "definition": result["definition"]}

    def mine(self, *, actor_id: str, by: str = "hour", days: int = 7) -> dict:
        """The caller's own live events, counted per event type per UTC hour (or day) over the last `days` days.

        The lab-wide reads above are the operator's; this one is every member's, and it can only ever count
        events whose user is the caller (their own actions: a clip made, a like given, a session opened), so
        it shows nobody else's activity. Counts only: no clip, target or other person is named. The time
        bound lets DuckDB skip the row groups of older events, simulated launches included."""
        if by not in ("hour", "day"):
            raise InputError(f"by: {by!r} is not a period; choose 'hour' or 'day'")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MINE_MAX_DAYS:
            raise InputError(f"days: {days!r} is not a whole number of days from 1 to {MINE_MAX_DAYS}")
        now = utcnow()
        since = now - timedelta(days=days)
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT date_trunc(?, ts) AS period, type, count(*) FROM events "
                "WHERE source = 'live' AND user_id = ? AND ts >= ? GROUP BY ALL ORDER BY ALL",
                [by, actor_id, since],
            ).fetchall()
        totals: dict[str, int] = {}
        for _, type_, n in rows:
            totals[type_] = totals.get(type_, 0) + n
        return {
            "by": by,
            "since": iso_utc(since),
            "until": iso_utc(now),
            "rows": [{"period": iso_utc(p), "type": t, "events": n, "active": t in ACTIVE_TYPES}
                     for p, t, n in rows],
            "totals": dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))),
            "definition": ACTIVE_USER_DEFINITION,
        }

    def sources(self) -> dict:
        """Which event sources exist (live, sim:<scenario>, import) with counts and days, and stored scenarios."""
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT source, count(*), min(ts), max(ts), count(DISTINCT region) FROM events "
                "GROUP BY source ORDER BY source"
            ).fetchall()
            external = cur.execute(
                "SELECT app, metric, source, count(*), min(day), max(day) FROM external_series "
                "GROUP BY ALL ORDER BY ALL"
            ).fetchall()
        return {
            "events": [
                {"source": s, "events": n, "first": a.isoformat() if a else None,
                 "last": b.isoformat() if b else None, "regions": r}
                for s, n, a, b, r in rows
            ],
            "external": [
                {"app": app, "metric": m, "source": s, "rows": n, "first": a.isoformat(), "last": b.isoformat()}
                for app, m, s, n, a, b in external
            ],
            "scenarios": self._scenarios(),
            "series": list(queries.SERIES),
            "definition": queries.ACTIVE_USER_DEFINITION,
        }

    def regions(self, *, sources: list[str] | str | None = None) -> list[str]:
        """Regions present in the chosen sources (for a region filter)."""
        filters = queries.make_filters(sources)
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT DISTINCT region FROM events WHERE source IN (SELECT unnest(?::VARCHAR[])) "
                "AND region IS NOT NULL ORDER BY region",
                [list(filters.sources)],
            ).fetchall()
        return [r[0] for r in rows]

    def external(self, *, metric: str | None = None, app: str | None = None) -> list[dict]:
        """Imported daily series (published or your own figures), oldest first."""
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT day, app, metric, value, source FROM external_series "
                "WHERE (? IS NULL OR metric = ?) AND (? IS NULL OR app = ?) ORDER BY day, app, metric, source",
                [metric, metric, app, app],
            ).fetchall()
        return [{"day": d.isoformat(), "app": a, "metric": m, "value": v, "source": s} for d, a, m, v, s in rows]

    def reference(self) -> dict:
        """The public launch figures with their sources, and those that sit on a daily chart."""
        return {"figures": load_reference(), "points": reference_points()}

    def fit(self, *, scenario: str = "default") -> dict:
        """A stored scenario beside each public figure (counts scaled back to full size)."""
        config = self._scenarios().get(scenario)
        if config is None:
            raise NotFound(f"no simulated scenario {scenario!r}; run `sora-lab metrics simulate --name {scenario}`")
        result = self.summary(sources=[f"sim:{scenario}"])
        return {"scenario": scenario, "scale": config["scale"], "fit": fit(result, config["scale"])}

    # --- writes (operator) -------------------------------------------------------------
    def simulate(
        self,
        *,
        scenario: str = "default",
        days: int = 35,
        seed: int = 7,
        scale: float = 1.0,
        invites_per_user: int | None = None,
        open_day: int | None = None,
        daily_generation_limit: int | None = None,
        params: dict | None = None,
    ) -> dict:
        """Run the rollout simulator and replace the events of sim:<name>. open_day=-1: never open up."""
        extra = dict(params or {})
        config = SimConfig.from_kwargs(
            name=scenario, days=days, seed=seed, scale=scale, invites_per_user=invites_per_user,
            daily_generation_limit=daily_generation_limit, **extra,
        )
        if open_day is not None:
            config.open_day = None if open_day < 0 else int(open_day)
            config.validate()
        report = run_scenario(self.store, config)
        remember_scenario(self.home, config)
        result = self.summary(sources=[config.source])
        report["fit"] = fit(result, config.scale)
        report["summary_s"] = result["elapsed_s"]
        return report

    def export(self, *, directory: str, sources: list[str] | str | None = None) -> dict:
        """Write the events as hive-partitioned Parquet under `directory` (a folder on the machine that holds
        the lab): source=…/day=…/part-0.parquet, only the days that changed since the last export, each
        replaced atomically. Default: every source. See metrics.export and docs/metrics.md."""
        if sources is None or "live" in queries.make_filters(sources).sources:
            self.fold_live()  # live's day fingerprints come from the fold
        return export_events(self.store, directory, sources)

    def delete_scenario(self, *, scenario: str) -> dict:
        """Remove a simulated scenario's events and settings."""
        with self.store.write() as cur:
            deleted = cur.execute("DELETE FROM events WHERE source = ?", [f"sim:{scenario}"]).fetchone()[0]
            drop_source(cur, f"sim:{scenario}")
        scenarios = self._scenarios()
        scenarios.pop(scenario, None)
        write_json_atomic(self._scenarios_path(), scenarios)
        return {"scenario": scenario, "deleted_events": deleted}

    def import_series(self, *, rows: list, app: str = "Sora") -> dict:
        """Store validated daily series rows; a bad row refuses the whole batch (nothing stored)."""
        cleaned = validate_rows(rows, default_app=app)
        with self.store.write() as cur:
            cur.executemany(
                "INSERT OR REPLACE INTO external_series VALUES (?, ?, ?, ?, ?)",
                [[r["day"], r["app"], r["metric"], r["value"], r["source"]] for r in cleaned],
            )
        metrics = sorted({r["metric"] for r in cleaned})
        return {"stored": len(cleaned), "metrics": metrics, "first": min(r["day"] for r in cleaned),
                "last": max(r["day"] for r in cleaned)}

    # --- scenario settings kept beside the lab file ------------------------------------
    def _scenarios_path(self) -> Path:
        return self.home / SCENARIOS_FILE

    def _scenarios(self) -> dict:
        return read_json(self._scenarios_path())
