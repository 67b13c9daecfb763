"""Altair charts of a metrics result (from `lab.metrics.summary`), shared by the dashboard and notebooks.

Every chart takes already-aggregated rows (days, cohorts x 31 offsets, funnel steps), so none comes
near Altair's 5 000-row limit. `factor` multiplies counts — e.g. 1/scale to show a scaled-down
simulation at full size beside public figures — and every such chart says so in its title.

Importing this module makes Altair draw offline (`use_offline_renderer`): a workshop room may have no
network, and Altair's default renderer loads Vega from a CDN. The Panel apps are not affected: they hand
specs to `pn.pane.Vega`, which `panel serve` draws with the Vega it bundles and serves itself.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert as vlc

WIDTH = 500  # two charts with legends fit abreast on a 1300-px screen
HEIGHT = 260
# The growth chart's colour legend: its bars and lines. Every value a layer colours by is listed here.
SERIES_COLOURS = {"downloads": "#9ecae1", "DAU": "#1f77b4", "WAU": "#ff7f0e", "MAU": "#9467bd"}
REFERENCE_SHAPES = {"public figure": "diamond", "imported series": "triangle-up"}
REFERENCE_COLOUR = "#d62728"
# "Oct 05" on every tick: Vega's default mixes "October", "Thu 09" and "Oct 05" on one axis.
DAY_AXIS = alt.Axis(format="%b %d", labelOverlap=True)


def use_offline_renderer() -> None:
    """Draw every Altair chart a notebook shows as SVG, made in this process by vl-convert (Vega compiled in).

    Why SVG: Altair's default ("html") renderer fetches Vega from a CDN, so offline a chart is a blank box.
    The "mimetype" renderer needs a Vega renderer in the front end: JupyterLab 4's reads Vega-Lite up to v5
    (Altair 6 writes v6), and Voilà pages and nbclient / nbconvert outputs have none. An SVG is drawn by every
    front end we use — JupyterLab, Voilà, an nbclient-executed copy opened anywhere — with no JavaScript,
    stays sharp when zoomed, and is 5-30x smaller and ~2x faster to make than vl-convert's PNG at 2x.
    What it gives up: tooltips and zoom. A notebook that wants them can call `alt.renderers.enable("default")`
    where a network is available. (JupyterLab shows SVG only in trusted outputs: those of a notebook run
    in this session, which is how the lessons are used.)"""
    alt.renderers.enable("svg")


use_offline_renderer()


def _tips(*fields: str) -> list[alt.Tooltip]:
    """Tooltip channel objects: a bare "field:T" string costs Altair a slow schema look-up per use,
    which made each dashboard redraw ~2x slower; the same holds for x="day:T" (so alt.X("day:T"))."""
    return [alt.Tooltip(f) for f in fields]


def _title(text: str, factor: float) -> str:
    return text if factor == 1 else f"{text} (simulation shown x{factor:g} = full size)"


def _scaled(counts: pd.Series, factor: float) -> pd.Series:
    """Counts times `factor`, as whole people (also for an empty column, whose dtype is object)."""
    return (counts.astype("float64") * factor).round().astype("int64")


def daily_frame(result: dict, factor: float = 1.0, label: str | None = None) -> pd.DataFrame:
    df = pd.DataFrame(result.get("daily", []))
    if df.empty:
        return pd.DataFrame(columns=["day", "downloads", "cumulative_downloads", "dau", "wau", "mau", "scenario"])
    for column in ("downloads", "cumulative_downloads", "reinstalls", "dau", "wau", "mau", "generations"):
        df[column] = _scaled(df[column], factor)
    df["scenario"] = label or ", ".join(result["filters"]["sources"])
    return df


def growth(result: dict, reference: list[dict] | None = None, factor: float = 1.0) -> alt.Chart:
    """Daily downloads (bars) against DAU, WAU and MAU (lines): the gap between downloads and users.

    Bars and lines share one colour scale whose domain is exactly SERIES_COLOURS; the reference points
    use the shape channel (see `_reference_layer`), so no layer's domain can hide another's marks."""
    df = daily_frame(result, factor)
    long = df.melt(id_vars=["day"], value_vars=["dau", "wau", "mau"], var_name="measure", value_name="users")
    long["measure"] = long["measure"].str.upper()
    bars = alt.Chart(df.assign(measure="downloads")).mark_bar(opacity=0.55).encode(
        x=alt.X("day:T", title="day (UTC)", axis=DAY_AXIS),
        y=alt.Y("downloads:Q", title="people (downloads that day; users active in the 1/7/30 days to it)"),
        color=_series_colour(),
        tooltip=_tips("day:T", "downloads:Q", "reinstalls:Q"),
    )
    lines = alt.Chart(long).mark_line(point=_single_day(df)).encode(
        x=alt.X("day:T"),
        y=alt.Y("users:Q"),
        color=_series_colour(),
        tooltip=_tips("day:T", "measure:N", "users:Q"),
    )
    layers = [bars, lines]
    points = _reference_layer(reference, {"downloads", "dau"}, df, labels=False)
    if points is not None:
        layers.append(points)
    return alt.layer(*layers).properties(
        title=_title("Downloads (bars) vs active users (DAU/WAU/MAU)", factor), width=WIDTH, height=HEIGHT
    )


def _single_day(df: pd.DataFrame) -> alt.OverlayMarkDef | bool:
    """A line's points when its daily series has one day only (a workshop's first day of live events): a line
    needs two days to be drawn at all, so its one value is drawn as a point instead; no points otherwise."""
    return alt.OverlayMarkDef(size=70, filled=True) if df["day"].nunique() == 1 else False


def _series_colour() -> alt.Color:
    return alt.Color("measure:N", title=None, sort=list(SERIES_COLOURS),
                     scale=alt.Scale(domain=list(SERIES_COLOURS), range=list(SERIES_COLOURS.values())))


def cumulative(result: dict, reference: list[dict] | None = None, factor: float = 1.0) -> alt.Chart:
    """Cumulative downloads with the published download milestones as labelled points."""
    df = daily_frame(result, factor)
    line = alt.Chart(df.assign(measure="cumulative downloads")).mark_area(opacity=0.3, line=True,
                                                                          point=_single_day(df)).encode(
        x=alt.X("day:T", title="day (UTC)", axis=DAY_AXIS),
        y=alt.Y("cumulative_downloads:Q", title="cumulative downloads"),
        color=alt.Color("measure:N", title=None, scale=alt.Scale(domain=["cumulative downloads"],
                                                                 range=[SERIES_COLOURS["DAU"]])),
        tooltip=_tips("day:T", "cumulative_downloads:Q"),
    )
    layers = [line]
    points = _reference_layer(reference, {"cumulative_downloads"}, df)
    if points is not None:
        layers.append(points)
    return alt.layer(*layers).properties(title=_title("Cumulative downloads", factor), width=WIDTH, height=HEIGHT)


def _reference_layer(reference: list[dict] | None, series: set[str], df: pd.DataFrame, labels: bool = True):
    """Public figures as points labelled with their source (in the tooltip at least); only charted days.

    Their kind is a shape (its own scale and legend), never a colour: a colour scale is shared by
    every layer, and an explicit colour domain here once hid the DAU/WAU/MAU lines."""
    if not reference or df.empty:
        return None
    days = set(df["day"])
    rows = [p for p in reference if p["series"] in series and p["day"] in days]
    if not rows:
        return None
    ref = pd.DataFrame(rows)
    ref["text"] = ref["label"] + " — " + ref["source"].str.slice(0, 40)
    ref["kind"] = ["imported series" if c == "imported" else "public figure" for c in ref["confidence"]]
    charted = pd.to_datetime(pd.Series(sorted(days)))
    ref["late"] = pd.to_datetime(ref["day"]) > charted.iloc[0] + (charted.iloc[-1] - charted.iloc[0]) / 2
    present = [k for k in REFERENCE_SHAPES if k in set(ref["kind"])]  # the legend lists only what is drawn
    kind = alt.Shape("kind:N", title=None,
                     scale=alt.Scale(domain=present, range=[REFERENCE_SHAPES[k] for k in present]))
    base = alt.Chart(ref).encode(
        x=alt.X("day:T"), y=alt.Y("value:Q"), tooltip=_tips("label:N", "value:Q", "source:N", "confidence:N")
    )
    points = base.mark_point(size=90, filled=True, color=REFERENCE_COLOUR).encode(shape=kind)
    if not labels:
        return points
    # a label runs away from the nearer edge: right of points in the first half of the days, left of the rest,
    # so a late figure's label does not cross the line to its right and run into the legend
    text = [base.mark_text(align=align, dx=dx, dy=-6, fontSize=9, color=REFERENCE_COLOUR)
            .encode(text=alt.Text("text:N")).transform_filter(keep)
            for align, dx, keep in (("left", 7, "!datum.late"), ("right", -7, "datum.late"))]
    return alt.layer(points, *text)


# imported metric names -> the daily series they sit beside
IMPORTED_SERIES = {
    "downloads": "downloads", "ios_downloads": "downloads", "installs": "downloads",
    "cumulative_downloads": "cumulative_downloads",
    "dau": "dau", "daily_active_users": "dau", "wau": "wau", "mau": "mau",
}


def imported_points(rows: list[dict]) -> list[dict]:
    """Imported daily series (`lab.metrics.external()`) as chart points, beside the public figures."""
    points = []
    for row in rows:
        series = IMPORTED_SERIES.get(row["metric"])
        if series:
            points.append({"series": series, "day": row["day"], "value": row["value"], "confidence": "imported",
                           "label": f"{row['app']} {row['metric']}", "source": row["source"]})
    return points


def funnel(result: dict, factor: float = 1.0) -> alt.Chart:
    df = pd.DataFrame(result.get("funnel", []))
    if df.empty:
        df = pd.DataFrame(columns=["step", "label", "users", "share_of_installs", "share_of_previous"])
    df["users"] = _scaled(df["users"], factor)
    order = list(df["label"])
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=300)),
            x=alt.X("users:Q", title="users who reached the step (and every step before)"),
            tooltip=[alt.Tooltip("label:N"), alt.Tooltip("users:Q"), alt.Tooltip("share_of_installs:Q", format=".1%"),
                     alt.Tooltip("share_of_previous:Q", format=".1%")],
        )
        .properties(title=_title("Activation funnel", factor), width=WIDTH, height=180)
    )


def retention_heatmap(result: dict, max_rows: int = 4000) -> alt.Chart:
    """Cohorts x days-since-install. Long ranges keep the latest cohorts (Altair refuses > 5 000 rows).
    Its colour is a share of each cohort, so it reads the same at any simulation scale."""
    df = pd.DataFrame(result.get("retention_matrix", []))
    title = "Retention by install cohort (share active: the same at any scale)"
    if df.empty:
        df = pd.DataFrame(columns=["cohort", "offset", "rate", "users", "retained"])
    elif len(df) > max_rows:
        cohorts = sorted(df["cohort"].unique())
        keep = cohorts[-(max_rows // 31):]
        df = df[df["cohort"].isin(keep)]
        title += f" (latest {len(keep)} of {len(cohorts)} cohorts)"
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("offset:O", title="days since first install"),
            # many cohorts: drop every other label until they no longer overlap
            y=alt.Y("cohort:O", title="install cohort (UTC day)", axis=alt.Axis(labelOverlap="parity")),
            color=alt.Color("rate:Q", title="active", scale=alt.Scale(scheme="blues", type="sqrt")),
            tooltip=[*_tips("cohort:O", "offset:O", "users:Q", "retained:Q"), alt.Tooltip("rate:Q", format=".1%")],
        )
        .properties(title=title, width=WIDTH, height=HEIGHT)
    )


def invite_depth(result: dict, factor: float = 1.0) -> alt.Chart:
    df = pd.DataFrame((result.get("invites") or {}).get("depth_histogram", []))
    if df.empty:
        df = pd.DataFrame(columns=["depth", "users"])
    df["users"] = _scaled(df["users"], factor)
    inv = result.get("invites") or {}
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(x=alt.X("depth:O", title="invite-tree depth"), y=alt.Y("users:Q", title="members"),
                tooltip=_tips("depth:O", "users:Q"))
        .properties(title=_title(f"Invite tree: K-factor {inv.get('k_factor')}, max depth {inv.get('max_depth')}",
                                 factor), width=WIDTH, height=180)
    )


def regions(result: dict, factor: float = 1.0) -> alt.Chart:
    df = pd.DataFrame(result.get("regions", []))
    if df.empty:
        df = pd.DataFrame(columns=["region", "downloads", "active_users"])
    long = df.melt(id_vars=["region"], value_vars=["downloads", "active_users"], var_name="measure", value_name="n")
    long["n"] = _scaled(long["n"], factor)
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(x=alt.X("region:N", title=None), xOffset=alt.XOffset("measure:N"), y=alt.Y("n:Q", title="people"),
                color=alt.Color("measure:N", title=None), tooltip=_tips("region:N", "measure:N", "n:Q"))
        .properties(title=_title("Regions: downloads vs active users", factor), width=WIDTH, height=180)
    )


def compare(frames: list[pd.DataFrame], measure: str = "dau") -> alt.Chart:
    """One line per scenario (each already scaled to full size) for `measure`."""
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["day", measure, "scenario"])
    return (
        alt.Chart(df)
        .mark_line()
        .encode(x=alt.X("day:T", title="day (UTC)", axis=DAY_AXIS), y=alt.Y(f"{measure}:Q", title=measure.upper()),
                color=alt.Color("scenario:N"), tooltip=_tips("scenario:N", "day:T", f"{measure}:Q"))
        .properties(title=f"Scenarios compared: {measure.upper()} (full size)", width=WIDTH, height=HEIGHT)
    )


def my_activity(mine: dict, width: int = 300) -> alt.Chart:
    """A member's own live events (`lab.metrics.mine`): stacked bars per hour (or day) with events, one colour
    per event type; types that make the member an active user that day are solid, the others faded.
    Counted one by one, never scaled, and only hours with events get a bar (gaps are not drawn)."""
    unit = mine.get("by", "hour")
    df = pd.DataFrame(mine.get("rows", []), columns=["period", "type", "events", "active"])
    when = pd.to_datetime(df["period"], utc=True)
    df["when"] = when.dt.strftime("%m-%d %H:00" if unit == "hour" else "%Y-%m-%d")
    df["counts as active"] = df["active"].map({True: "yes", False: "no"})
    band = width / max(df["when"].nunique(), 1)
    return (
        alt.Chart(df)
        .mark_bar(size=min(40, 0.8 * band))  # one hour of activity is a bar, not a wall
        .encode(
            x=alt.X("when:O", title=f"{unit} (UTC), those with events", sort="ascending"),
            y=alt.Y("sum(events):Q", title="your events", axis=alt.Axis(format="d", tickMinStep=1)),
            color=alt.Color("type:N", title="event type"),
            opacity=alt.Opacity("counts as active:N", scale=alt.Scale(domain=["yes", "no"], range=[1.0, 0.35])),
            tooltip=_tips("when:O", "type:N", "events:Q", "counts as active:N"),
        )
        .properties(title=f"Your own events per {unit} (live, one by one: not scaled)", width=width, height=HEIGHT)
    )


def to_spec(chart: alt.TopLevelMixin, vega_lite: str | None = None) -> dict:
    """The chart as a plain Vega-Lite dict (validated by Altair's builders, not again), declared for the
    Vega-Lite release that will draw it: vega-embed warns when the spec names a newer one than it ships
    (Altair 6.3 writes v6.4.1; Panel 1.9 draws with v6.3.0). These charts use nothing newer than v6.1,
    and the dashboard's browser test checks every series is drawn by that renderer."""
    spec = chart.to_dict(validate=False)
    if vega_lite:
        spec["$schema"] = f"https://vega.github.io/schema/vega-lite/v{vega_lite}.json"
    return spec


def to_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    return vlc.vegalite_to_png(chart.to_json(), scale=scale)


def to_svg(chart: alt.TopLevelMixin) -> str:
    return vlc.vegalite_to_svg(chart.to_json())
