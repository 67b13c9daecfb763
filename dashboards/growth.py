"""Growth dashboard: downloads are not users.

    panel serve dashboards/growth.py          (SORA_LAB_HOME picks the lab)

All data comes through `lab.metrics.*` calls (aggregated rows), so the app works embedded and while
a lab server owns the DuckDB file (`Lab.auto()` then goes over HTTP with the operator token from
the lab home's credentials.json).
"""

from __future__ import annotations

import io
import time
from datetime import date

import pandas as pd
import panel as pn
from panel.models.vega import VEGA_LITE_VERSION  # the Vega-Lite release Panel bundles and draws with

from sora_lab.lab import Lab
from sora_lab.metrics import charts
from sora_lab.metrics.reference import fit_for_display

pn.extension("vega", sizing_mode="fixed", notifications=True)

lab = Lab.auto()
pn.state.on_session_destroyed(lambda _context, lab=lab: lab.close())
CHARTS = ("growth", "cumulative", "funnel", "retention", "invites", "regions", "compare")


def scenario_scale(sources_info: dict, source: str) -> float:
    """Simulated scenarios may be scaled down; the charts show them at full size beside public figures."""
    if not source.startswith("sim:"):
        return 1.0
    return float(sources_info["scenarios"].get(source[4:], {}).get("scale", 1.0))


def event_sources(info: dict) -> list[str]:
    names = [row["source"] for row in info["events"]]
    return names or ["live"]


info = lab.metrics.sources()
reference = lab.metrics.reference()["points"]
names = event_sources(info)
default_source = "sim:default" if "sim:default" in names else names[0]

source_w = pn.widgets.Select(name="Events", options=names, value=default_source, width=220)
region_w = pn.widgets.Select(name="Region", options=["All"], value="All", width=120)
range_w = pn.widgets.DateRangePicker(name="Days (UTC)", width=260)
full_size_w = pn.widgets.Checkbox(name="show simulation at full size (x 1/scale)", value=True)
compare_w = pn.widgets.MultiChoice(name="Compare scenarios", options=[n for n in names if n.startswith("sim:")],
                                   value=[n for n in names if n.startswith("sim:")][:3], width=400)
compare_measure_w = pn.widgets.Select(name="Compare", options=["dau", "cumulative_downloads", "mau", "downloads"],
                                      value="dau", width=200)

scenario_w = pn.widgets.TextInput(name="Scenario name", value="what_if", width=160)
invites_w = pn.widgets.IntSlider(name="Invites per user", start=0, end=12, value=4, width=200)
open_day_w = pn.widgets.IntSlider(name="Open up on day (-1: never)", start=-1, end=60, value=29, width=200)
days_w = pn.widgets.IntSlider(name="Days", start=7, end=90, value=35, width=200)
scale_w = pn.widgets.FloatInput(name="Scale", value=0.01, start=0.001, end=1.0, step=0.005, width=100)
seed_w = pn.widgets.IntInput(name="Seed", value=7, width=100)
run_w = pn.widgets.Button(name="Run scenario", button_type="primary", width=160)

status = pn.pane.Markdown("", css_classes=["growth-status"], width=900)
definition = pn.pane.Markdown(f"**Active user.** {info['definition']}", width=900)
headline = pn.pane.Markdown("", width=900)
fit_table = pn.pane.DataFrame(pd.DataFrame(), width=900, index=False)
panes = {name: pn.pane.Vega(None, css_classes=[f"chart-{name}"]) for name in CHARTS}
current: dict[str, tuple] = {}  # chart name -> (altair chart, data frame) for export
# sources: stored scenarios and their scales (refreshed after a run); imported: `sora-lab metrics import` rows
state = {"sources": info, "imported": charts.imported_points(lab.metrics.external())}
updates = {"n": 0, "quiet": False}  # quiet: on_source is resetting widgets; draw once at the end


def _source_range(source: str) -> tuple[date, date] | None:
    row = next((r for r in lab.metrics.sources()["events"] if r["source"] == source), None)
    if row is None or row["first"] is None:
        return None
    return date.fromisoformat(row["first"][:10]), date.fromisoformat(row["last"][:10])


def _filters() -> dict:
    start, end = range_w.value or (None, None)
    return {
        "sources": [source_w.value],
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "regions": [] if region_w.value == "All" else [region_w.value],
    }


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _scale(source: str) -> float:
    return scenario_scale(state["sources"], source)


def _show(name: str, chart, frame: pd.DataFrame) -> None:
    """Hand the pane a plain Vega-Lite dict (validated once by Altair's builders, not again per redraw),
    declared for the Vega-Lite release Panel draws it with, so the console has no version warning."""
    current[name] = (chart, frame)
    panes[name].object = charts.to_spec(chart, VEGA_LITE_VERSION)


def refresh(*_events) -> None:
    """Redraw the filtered charts: one summary call (aggregated in DuckDB), six Altair charts."""
    if updates["quiet"]:
        return
    started = time.perf_counter()
    result = lab.metrics.summary(**_filters())
    fetched = time.perf_counter()
    factor = 1.0 / _scale(source_w.value) if full_size_w.value else 1.0
    daily = charts.daily_frame(result, factor)
    # public figures and imported series cover every region: drawn only without a region filter
    points = reference + state["imported"] if region_w.value == "All" else None
    with pn.io.hold():
        _show("growth", charts.growth(result, points, factor), daily)
        _show("cumulative", charts.cumulative(result, points, factor), daily)
        _show("funnel", charts.funnel(result, factor), pd.DataFrame(result["funnel"]))
        _show("retention", charts.retention_heatmap(result), pd.DataFrame(result["retention_matrix"]))
        _show("invites", charts.invite_depth(result, factor),
              pd.DataFrame((result["invites"] or {}).get("depth_histogram", [])))
        _show("regions", charts.regions(result, factor), pd.DataFrame(result["regions"]))
        headline.object = _headline(result, factor)
        updates["n"] += 1
        span = result["range"] or {"start": "-", "end": "-"}
        status.object = (
            f"update {updates['n']} · {', '.join(result['filters']['sources'])} · region {region_w.value} · "
            f"{span['start']} .. {span['end']}"
            f" · summary {fetched - started:.2f} s ({result['elapsed_s']:.2f} s in DuckDB),"
            f" charts {time.perf_counter() - fetched:.2f} s"
        )


def _headline(result: dict, factor: float) -> str:
    t, r = result["totals"], result["retention"]
    if not t:
        return "**No events for these filters.**"
    return (
        f"**{t['downloads']:,} downloads, {t['active_users']:,} ever active** "
        f"({t['never_active_installs']:,} installs never active) · peak DAU {t['peak_dau']:,} · "
        f"stickiness (DAU/MAU, last day) {_pct(t['stickiness_last_day'])} · retention D1 {_pct(r.get('d1'))}, "
        f"D7 {_pct(r.get('d7'))}, D30 {_pct(r.get('d30'))} · creators {_pct(t['creator_share'])} of active · "
        f"{t['generations_per_active_user']} generations per active user"
        + (f" · counts in the lab are at scale {1 / factor:g}" if factor != 1 else "")
    )


def refresh_compare(*_events) -> None:
    """Scenarios side by side at full size (all regions, all days; each scenario summarised once per choice)."""
    frames = []
    for source in compare_w.value:
        other = lab.metrics.summary(sources=[source])
        frames.append(charts.daily_frame(other, 1.0 / _scale(source), label=source))
    _show("compare", charts.compare(frames, compare_measure_w.value),
          pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())


def refresh_fit() -> None:
    """The chosen scenario beside the public figures (only for simulated sources)."""
    scenario = source_w.value[4:] if source_w.value.startswith("sim:") else None
    if scenario and scenario in state["sources"]["scenarios"]:
        fit = lab.metrics.fit(scenario=scenario)["fit"]
        fit_table.object = pd.DataFrame(fit_for_display(fit))
    else:
        fit_table.object = pd.DataFrame()


def on_source(*_events) -> None:
    """A new event source: reset regions and the date range to what that source holds, then redraw."""
    regions = lab.metrics.regions(sources=[source_w.value])
    state["imported"] = charts.imported_points(lab.metrics.external())  # `sora-lab metrics import` may have run
    span = _source_range(source_w.value)
    updates["quiet"] = True
    try:
        region_w.param.update(options=["All", *regions], value="All")
        if span:
            range_w.param.update(start=span[0], end=span[1], value=span)
    finally:
        updates["quiet"] = False
    refresh()
    refresh_fit()


def run_scenario(_event) -> None:
    """Re-run the simulator with the chosen knobs as a new scenario and compare it with the others."""
    run_w.loading = True
    try:
        report = lab.metrics.simulate(
            scenario=scenario_w.value.strip(), days=days_w.value, seed=seed_w.value, scale=scale_w.value,
            invites_per_user=invites_w.value, open_day=open_day_w.value,
        )
        state["sources"] = lab.metrics.sources()
        names_now = event_sources(state["sources"])
        source = report["source"]
        updates["quiet"] = True
        try:
            source_w.options = names_now
            compare_w.options = [n for n in names_now if n.startswith("sim:")]
            compare_w.value = list(dict.fromkeys([*compare_w.value, source]))
        finally:
            updates["quiet"] = False
        if source_w.value == source:
            on_source()
        else:
            source_w.value = source  # triggers on_source -> refresh
        refresh_compare()
        pn.state.notifications.success(f"{source}: {report['events']:,} events in "
                                       f"{report['simulate_s'] + report['ingest_s']:.1f} s")
    except Exception as exc:  # a person reads this; the traceback is in the server log
        pn.state.notifications.error(f"scenario not run: {exc}")
    finally:
        run_w.loading = False


def _download_buttons(name: str) -> pn.Row:
    def png():
        return io.BytesIO(charts.to_png(current[name][0]))

    def svg():
        return io.BytesIO(charts.to_svg(current[name][0]).encode())

    def csv():
        return io.StringIO(current[name][1].to_csv(index=False))

    return pn.Row(
        pn.widgets.FileDownload(callback=png, filename=f"{name}.png", label="PNG", width=80, button_type="light"),
        pn.widgets.FileDownload(callback=svg, filename=f"{name}.svg", label="SVG", width=80, button_type="light"),
        pn.widgets.FileDownload(callback=csv, filename=f"{name}.csv", label="CSV", width=80, button_type="light"),
    )


source_w.param.watch(on_source, "value")
for widget in (region_w, range_w, full_size_w):
    widget.param.watch(refresh, "value")
for widget in (compare_w, compare_measure_w):
    widget.param.watch(refresh_compare, "value")
run_w.on_click(run_scenario)
on_source()
refresh_compare()


def card(name: str, title: str) -> pn.Column:
    return pn.Column(f"#### {title}", panes[name], _download_buttons(name))


pn.Column(
    "# Growth: downloads are not users",
    definition,
    pn.Row(source_w, region_w, range_w, full_size_w),
    status,
    headline,
    # a wrapping box, not fixed rows: two charts abreast on a wide screen, one on a laptop, no sideways scrolling
    pn.FlexBox(card("growth", "Downloads vs DAU/WAU/MAU"),
               card("cumulative", "Cumulative downloads and public figures"),
               card("funnel", "Activation funnel"), card("retention", "Retention heat map"),
               card("invites", "Invite tree"), card("regions", "Regions")),
    "### Scenarios: re-run the invite-only launch",
    pn.FlexBox(scenario_w, invites_w, open_day_w, days_w, scale_w, seed_w, run_w),
    pn.Row(compare_w, compare_measure_w),
    card("compare", "Scenarios compared"),
    "### Simulation vs public figures (estimates, with their sources)",
    fit_table,
).servable(title="Sora Lab — growth")
