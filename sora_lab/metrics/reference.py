"""Public launch figures (each with its source) and how a simulated launch compares with them.

The figures live in data/reference/launch_figures.csv as reported — many are third-party estimates
and some contradict each other (Appfigures' iOS estimates vs the company's own "1 M in under 5 days").
`PLACEMENT` says where each Sora figure sits on a daily chart, so the dashboard can draw it as a
labelled point and `fit` can put the simulated value beside it.
"""

from __future__ import annotations

import csv
from pathlib import Path

REFERENCE_CSV = Path(__file__).resolve().parents[2] / "data" / "reference" / "launch_figures.csv"

# (metric, date_or_window) -> (series, day, how to compare)
# how: "value" same-day value; "cumulative" cumulative downloads by that day; "mean_month" mean daily
# value over that calendar month; "days_to" days until cumulative downloads reached the figure;
# "retention" launch-cohort retention.
PLACEMENT: dict[tuple[str, str], tuple[str, str, str]] = {
    ("ios_downloads", "day 1 (2025-09-30)"): ("downloads", "2025-09-30", "value"),
    ("ios_downloads", "day 1 (2025-09-30) revised"): ("downloads", "2025-09-30", "value"),
    ("ios_downloads", "peak day 2025-10-01"): ("downloads", "2025-10-01", "value"),
    ("ios_downloads", "first 7 days"): ("cumulative_downloads", "2025-10-06", "cumulative"),
    ("downloads", "under 5 days"): ("cumulative_downloads", "2025-10-04", "days_to"),
    ("ios_downloads", "2025-09-25 to 2025-10-18"): ("cumulative_downloads", "2025-10-18", "cumulative"),
    ("daily_active_users", "October 2025"): ("dau", "2025-10-15", "mean_month"),
    ("daily_active_users", "November 2025"): ("dau", "2025-11-15", "mean_month"),
    ("daily_active_users", "end of November 2025"): ("dau", "2025-11-30", "value"),
    ("retention_d1", "launch cohort"): ("retention", "", "retention"),
    ("retention_d7", "launch cohort"): ("retention", "", "retention"),
    ("retention_d30", "launch cohort"): ("retention", "", "retention"),
}


def load_reference(path: Path | None = None) -> list[dict]:
    """All rows of the reference CSV, values as numbers where they are numbers."""
    with open(path or REFERENCE_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        try:
            row["value"] = float(row["value"])
        except ValueError:
            pass
    return rows


def reference_points(path: Path | None = None) -> list[dict]:
    """Sora figures that sit on a daily chart: {series, day, value, label, source, confidence}."""
    points = []
    for row in load_reference(path):
        place = PLACEMENT.get((row["metric"], row["date_or_window"]))
        if row["app"] != "Sora" or place is None or place[0] == "retention":
            continue
        series, day, _ = place
        points.append(
            {
                "series": series,
                "day": day,
                "value": row["value"],
                "label": f"{row['metric']} {row['date_or_window']}",
                "source": row["source"],
                "confidence": row["confidence"],
            }
        )
    return points


def fit(result: dict, scale: float, path: Path | None = None) -> list[dict]:
    """Each comparable Sora figure beside the simulated value (counts divided by `scale`)."""
    daily = {row["day"]: row for row in result.get("daily", [])}
    rows = []
    for row in load_reference(path):
        place = PLACEMENT.get((row["metric"], row["date_or_window"]))
        if row["app"] != "Sora" or place is None:
            continue
        series, day, how = place
        simulated, note = _simulated(result, daily, series, day, how, row, scale)
        reference = 5.0 if how == "days_to" else row["value"]  # "under 5 days": compare days, not downloads
        ratio = round(simulated / reference, 3) if simulated is not None and reference else None
        rows.append(
            {
                "figure": f"{row['metric']} {row['date_or_window']}",
                "reference": reference,
                "unit": "days" if how == "days_to" else row["unit"],
                "simulated": simulated,
                "ratio": ratio,
                "note": note,
                "source": row["source"],
                "confidence": row["confidence"],
            }
        )
    return rows


def format_figure(value: float | None, unit: str) -> str:
    """One column holds download counts, user counts, shares and days: 56000 -> '56,000',
    share 0.1253 -> '12.5%', 5 days -> '5 days', missing -> '–', so people can read them side by side."""
    if value is None or value != value:  # None or NaN
        return "–"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "days":
        return f"{value:g} days"
    return f"{value:,.0f}"


def fit_for_display(fit_rows: list[dict]) -> list[dict]:
    """`fit` rows as text for tables (dashboard, CLI): figure, reference, simulated, ratio, note, source."""
    return [{"figure": row["figure"], "reference": format_figure(row["reference"], row["unit"]),
             "simulated": format_figure(row["simulated"], row["unit"]),
             "ratio": "–" if row["ratio"] is None else f"{row['ratio']:.2f}",
             "note": row["note"], "source": row["source"]} for row in fit_rows]


def _simulated(result, daily, series, day, how, row, scale) -> tuple[float | None, str]:
    if how == "retention":
        key = row["metric"].split("_")[1]
        value = (result.get("retention") or {}).get("launch", {}).get(key)
        return value, "launch-day install cohort" if value is not None else "cohort not mature in the simulated range"
    if how == "days_to":
        target = row["value"] * scale
        hit = next((i + 1 for i, r in enumerate(result.get("daily", [])) if r["cumulative_downloads"] >= target), None)
        if hit is None:
            return None, f"never reached {row['value']:.0f} downloads in the simulated range"
        return float(hit), f"days until cumulative downloads reached {row['value']:,.0f} (reference: under 5 days)"
    if how == "mean_month":
        month = day[:7]
        values = [r[series] for d, r in daily.items() if d.startswith(month)]
        if len(values) < 15:
            return None, f"{month} is (mostly) outside the simulated range ({len(values)} days simulated)"
        return round(sum(values) / len(values) / scale), f"mean over the {len(values)} simulated days of {month}"
    if day not in daily:
        return None, f"{day} is outside the simulated range"
    return round(daily[day][series] / scale), "same day" if how == "value" else "cumulative to that day"

