"""Every growth chart rendered the way a browser draws it (vl-convert to SVG), checked mark by mark.

A spec can list a series that never reaches the page (see helpers/vega_marks.py), so these tests
assert on the drawn SVG: bars, lines in distinct colours matching the legend, and reference points.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import altair as alt
import pandas as pd
import pytest
from helpers.vega_marks import growth_problems, legend, legend_colour, marks

from sora_lab.metrics import charts
from sora_lab.metrics.service import MetricsService
from sora_lab.store.db import Store


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    """A small simulated launch (35 days from 2025-09-30, the public figures' days) and one imported DAU row."""
    store = Store.open(None)
    metrics = MetricsService(store, tmp_path_factory.mktemp("charts"))
    metrics.simulate(scenario="default", scale=0.002, days=35)
    metrics.simulate(scenario="other", scale=0.002, days=35, invites_per_user=8)
    metrics.import_series(rows=[{"date": "2025-10-20", "metric": "dau", "value": 3_000_000, "source": "mine"}])
    yield {
        "result": metrics.summary(sources=["sim:default"]),
        "other": metrics.summary(sources=["sim:other"]),
        "points": metrics.reference()["points"] + charts.imported_points(metrics.external()),
    }
    store.close()


def test_growth_draws_bars_three_user_lines_and_the_reference_points(launch):
    svg = charts.to_svg(charts.growth(launch["result"], launch["points"], factor=500))
    assert growth_problems(svg, days=35, kinds=("public figure", "imported series")) == []


def test_growth_without_reference_points_still_draws_everything_else(launch):
    svg = charts.to_svg(charts.growth(launch["result"]))
    assert growth_problems(svg, days=35, kinds=()) == []


def test_cumulative_draws_the_area_and_labelled_public_figures(launch):
    svg = charts.to_svg(charts.cumulative(launch["result"], launch["points"], factor=500))
    drawn = Counter(m.kind for m in marks(svg))
    placed = [p for p in launch["points"] if p["series"] == "cumulative_downloads"]
    assert drawn["area"] == 1
    assert drawn["symbol"] == drawn["text"] == len(placed)  # a point and its source label per figure
    assert {"cumulative downloads", "public figure"} <= set(legend(svg))
    # labels run away from the nearer edge: a figure in the later half of the days is labelled to its left
    days = pd.to_datetime(pd.Series([d["day"] for d in launch["result"]["daily"]]))
    middle = days.min() + (days.max() - days.min()) / 2
    anchors = {el.text: el.get("text-anchor") for el in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")}
    sides = {("end" if pd.Timestamp(p["day"]) > middle else "start") for p in placed}
    assert sides == {"start", "end"}, "the launch places figures in both halves of its days"
    for p in placed:
        label = next(text for text in anchors if text and text.startswith(p["label"] + " — "))
        assert anchors[label] == ("end" if pd.Timestamp(p["day"]) > middle else "start"), label


def test_regions_draws_both_measures_in_their_legend_colours(launch):
    svg = charts.to_svg(charts.regions(launch["result"]))
    keys = legend(svg)
    colours = Counter(m.painted for m in marks(svg) if m.kind == "rect")
    assert set(keys) == {"downloads", "active_users"}
    n = len(launch["result"]["regions"])
    assert colours == {legend_colour(keys["downloads"]): n, legend_colour(keys["active_users"]): n}


def test_counted_charts_show_a_scaled_simulation_at_full_size(launch):
    """The funnel, the invite tree and the regions multiply their counts by `factor` and say so, like growth."""
    result = launch["result"]
    regions_in = [r[m] for r in result["regions"] for m in ("downloads", "active_users")]
    depths = [r["users"] for r in result["invites"]["depth_histogram"]]
    for chart, counts in ((charts.funnel(result, 500), [r["users"] for r in result["funnel"]]),
                          (charts.invite_depth(result, 500), depths), (charts.regions(result, 500), regions_in)):
        spec = charts.to_spec(chart)
        assert spec["title"].endswith("(simulation shown x500 = full size)"), spec["title"]
        drawn = [row.get("users", row.get("n")) for row in next(iter(spec["datasets"].values()))]
        assert sorted(drawn) == sorted(round(n * 500) for n in counts) and any(counts), spec["title"]
    assert "full size" not in charts.to_spec(charts.regions(result))["title"]


def test_one_day_of_live_events_is_drawn_as_points_not_nothing():
    """A workshop's first day: one value per series, which a line alone does not draw."""
    one_day = {"daily": [{"day": "2026-12-04", "downloads": 5, "cumulative_downloads": 5, "reinstalls": 0, "dau": 4,
                          "wau": 4, "mau": 4, "generations": 7}], "filters": {"sources": ["live"]}}
    drawn = marks(charts.to_svg(charts.growth(one_day)))
    assert {m.field("measure") for m in drawn if m.kind == "symbol"} == {"DAU", "WAU", "MAU"}
    assert sum(m.kind == "rect" for m in drawn) == 1
    assert any(m.kind == "symbol" for m in marks(charts.to_svg(charts.cumulative(one_day))))


def test_compare_draws_one_line_per_scenario(launch):
    frames = [charts.daily_frame(launch["result"], 500, label="sim:default"),
              charts.daily_frame(launch["other"], 500, label="sim:other")]
    svg = charts.to_svg(charts.compare(frames, "dau"))
    lines = {m.field("scenario"): m.painted for m in marks(svg) if m.kind == "line"}
    keys = legend(svg)
    assert set(lines) == {"sim:default", "sim:other"} and len(set(lines.values())) == 2
    assert all(legend_colour(keys[name]) == colour for name, colour in lines.items())


@pytest.mark.parametrize("name, kind, count", [
    ("funnel", "rect", lambda r: len(r["funnel"])),
    ("invite_depth", "rect", lambda r: len(r["invites"]["depth_histogram"])),
    ("retention_heatmap", "rect", lambda r: len(r["retention_matrix"])),
])
def test_single_series_charts_draw_one_mark_per_row(launch, name, kind, count):
    svg = charts.to_svg(getattr(charts, name)(launch["result"]))
    assert sum(m.kind == kind for m in marks(svg)) == count(launch["result"]) > 0


def test_charts_draw_the_same_with_an_older_vega_lite_than_the_dashboards(launch):
    """The dashboard declares its specs for Panel's bundled Vega-Lite (6.3), older than Altair's (6.4.1):
    the charts must use nothing newer. vl-convert's oldest 6.x (6.1) draws them all the same."""
    import vl_convert as vlc

    chart = charts.growth(launch["result"], launch["points"], factor=500)
    svg = vlc.vegalite_to_svg(charts.to_spec(chart, "6.1.0"), vl_version="6.1")
    assert growth_problems(svg, days=35, kinds=("public figure", "imported series")) == []
    for name in ("cumulative", "funnel", "retention_heatmap", "invite_depth", "regions"):
        chart = getattr(charts, name)(launch["result"])
        old = vlc.vegalite_to_svg(charts.to_spec(chart, "6.1.0"), vl_version="6.1")
        assert Counter(m.kind for m in marks(old)) == Counter(m.kind for m in marks(charts.to_svg(chart))), name


def test_to_spec_declares_the_renderers_vega_lite_version(launch):
    spec = charts.to_spec(charts.funnel(launch["result"]), "6.3.0")
    assert spec["$schema"] == "https://vega.github.io/schema/vega-lite/v6.3.0.json"
    assert charts.to_spec(charts.funnel(launch["result"]))["$schema"] == alt.SCHEMA_URL  # Altair's own
