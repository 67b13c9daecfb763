"""Growth metrics (the operator's): summaries and daily series over live, simulated and imported events,
the rollout simulator, imported series, Parquet export, and the public launch figures anyone may read;
and each member's own activity (`/metrics/mine`), which counts the caller's events and nobody else's.

Metric reports grow as definitions are added, so their models promise the top-level fields and
allow more (`OpenReply`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field

from sora_lab.accounts.service import User
from sora_lab.api.auth import current_admin, current_member, lab_services
from sora_lab.api.types import Day, OpenReply, Reply, Request, Seed, Text, example
from sora_lab.metrics.service import MINE_MAX_DAYS

router = APIRouter(prefix="/metrics", tags=["metrics"])

Source = Text(100, min_length=1)
Sources = Query(
    None,
    max_length=20,
    description="event sources, repeatable: live (default), import, sim:<scenario>",
    examples=[["sim:default"]],
)
Regions = Query(None, max_length=50, description="two-letter region codes, repeatable (default: all)")
Scenario = Text(40, min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")


class Summary(OpenReply):
    model_config = example(
        {
            "totals": {"downloads": 2090, "active_users": 439, "dau_last_day": 177},
            "filters": {"sources": ["sim:default"], "start": None, "end": None, "regions": []},
        }
    )
    totals: dict[str, Any]
    filters: dict[str, Any]


class Series(OpenReply):
    model_config = example(
        {
            "metric": "downloads",
            "rows": [{"day": "2025-09-30", "value": 239}],
            "filters": {"sources": ["sim:default"]},
            "definition": "An active user on a UTC day is one with at least one session_start, view, ... event",
        }
    )
    metric: str
    rows: list[dict[str, Any]] = Field(description="{day, value}, oldest first")
    filters: dict[str, Any]
    definition: str


class SourcesReport(OpenReply):
    model_config = example(
        {
            "events": [
                {
                    "source": "live",
                    "events": 37,
                    "first": "2026-12-04T13:17:58",
                    "last": "2026-12-04T13:18:13",
                    "regions": 2,
                }
            ],
            "external": [],
            "scenarios": {},
            "series": ["downloads", "dau"],
        }
    )
    events: list[dict[str, Any]]
    external: list[dict[str, Any]]
    scenarios: dict[str, Any]
    series: list[str]


class ExternalRow(Reply):
    model_config = example(
        {"day": "2025-10-01", "app": "Sora", "metric": "downloads", "value": 107800, "source": "Appfigures via press"}
    )
    day: str
    app: str
    metric: str
    value: int | float
    source: str


class Reference(OpenReply):
    model_config = example(
        {
            "figures": [
                {"app": "Sora", "metric": "ios_downloads", "date_or_window": "first 7 days", "value": 627000.0}
            ],
            "points": [],
        }
    )
    figures: list[dict[str, Any]]
    points: list[dict[str, Any]]


class Mine(Reply):
    model_config = example(
        {
            "by": "hour",
            "since": "2026-11-27T14:00:00Z",
            "until": "2026-12-04T14:00:00Z",
            "rows": [{"period": "2026-12-04T13:00:00Z", "type": "view", "events": 12, "active": True}],
            "totals": {"view": 12, "install": 1},
            "definition": "An active user on a UTC day is one with at least one session_start, view, ... event",
        }
    )
    by: str
    since: str
    until: str
    rows: list[dict[str, Any]] = Field(description="{period (UTC start), type, events, active}, oldest first")
    totals: dict[str, int] = Field(description="events per type, most first")
    definition: str


class Fit(OpenReply):
    model_config = example(
        {
            "scenario": "default",
            "scale": 0.01,
            "fit": [
                {"figure": "ios_downloads first 7 days", "reference": 627000.0, "simulated": 598000, "ratio": 0.95}
            ],
        }
    )
    scenario: str
    scale: float
    fit: list[dict[str, Any]]


class Simulate(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"scenario": "default", "days": 35, "scale": 0.01}]})
    scenario: Text(40, min_length=1) = "default"
    days: int = Field(35, ge=1, le=120)
    seed: Seed = 7
    scale: float = Field(1.0, gt=0, le=2, description="population multiplier (0.01: one simulated person in 100)")
    invites_per_user: int | None = Field(None, ge=0, le=100)
    open_day: int | None = Field(None, ge=-1, le=1000, description="the day it opens up; -1: never")
    daily_generation_limit: int | None = Field(None, ge=0, le=10_000)
    params: dict[Text(40), float | dict[Text(10), float]] | None = Field(
        None, max_length=40, description="other simulator knobs by name (see docs/metrics.md)"
    )


class Simulated(OpenReply):
    scenario: str
    source: str
    events: int


class DeletedScenario(Reply):
    model_config = example({"scenario": "default", "deleted_events": 7509})
    scenario: str
    deleted_events: int


class SeriesRow(Request):
    """One daily figure; cells may be text as read from a spreadsheet (checked and named by row on import)."""

    model_config = ConfigDict(extra="ignore")
    date: Text(40) | None = None
    metric: Text(64) | None = None
    value: int | float | Text(40) | None = None
    source: Text(200) | None = None
    app: Text(100) | None = None


class ImportSeries(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rows": [
                        {"date": "2025-10-01", "metric": "downloads", "value": 107800, "source": "Appfigures via press"}
                    ]
                }
            ]
        }
    )
    rows: list[SeriesRow] = Field(min_length=1, max_length=100_000)
    app: Text(100, min_length=1) = "Sora"


class Imported(Reply):
    stored: int
    metrics: list[str]
    first: str
    last: str


class Export(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"directory": "exports/events", "sources": ["live"]}]})
    directory: Text(1000, min_length=1) = Field(
        description="a folder on the lab's machine (relative: to the server's working folder)"
    )
    sources: list[Source] | None = Field(None, max_length=20, description="default: every source")


class Exported(OpenReply):
    """What the export wrote, removed and left unchanged."""


def filters(
    sources: list[Source] | None = Sources,
    start: Day | None = Query(None, description="first UTC day, YYYY-MM-DD"),
    end: Day | None = Query(None, description="last UTC day, YYYY-MM-DD"),
    regions: list[Text(10)] | None = Regions,
) -> dict:
    """The query filters every metric read shares."""
    return {"sources": sources, "start": start, "end": end, "regions": regions}


@router.get(
    "/summary",
    operation_id="metrics.summary",
    summary="Every metric for the chosen sources, days, regions",
    response_model=Summary,
)
def summary(chosen: dict = Depends(filters), user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.metrics.summary(**chosen)


@router.get(
    "/series/{metric}", operation_id="metrics.series", summary="One metric as a daily series", response_model=Series
)
def series(
    metric: Text(64, min_length=1),
    chosen: dict = Depends(filters),
    user: User = Depends(current_admin),
    lab=Depends(lab_services),
):
    return lab.metrics.series(metric=metric, **chosen)


@router.get(
    "/sources",
    operation_id="metrics.sources",
    summary="Event sources, imported series and scenarios",
    response_model=SourcesReport,
)
def sources(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.metrics.sources()


@router.get(
    "/regions",
    operation_id="metrics.regions",
    summary="Regions present in the chosen sources",
    response_model=list[str],
)
def regions(sources: list[Source] | None = Sources, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.metrics.regions(sources=sources)


@router.get(
    "/external",
    operation_id="metrics.external",
    summary="Imported daily series, oldest first",
    response_model=list[ExternalRow],
)
def external(
    metric: Text(64, min_length=1) | None = Query(None),
    app: Text(100, min_length=1) | None = Query(None),
    user: User = Depends(current_admin),
    lab=Depends(lab_services),
):
    return lab.metrics.external(metric=metric, app=app)


@router.post(
    "/external",
    operation_id="metrics.import_series",
    summary="Import daily series (a bad row refuses the whole batch)",
    response_model=Imported,
    status_code=201,
)
def import_series(body: ImportSeries, user: User = Depends(current_admin), lab=Depends(lab_services)):
    rows = [row.model_dump(exclude_none=True) for row in body.rows]
    return lab.metrics.import_series(rows=rows, app=body.app)


@router.get(
    "/reference",
    operation_id="metrics.reference",
    summary="The public launch figures and their sources",
    response_model=Reference,
)
def reference(lab=Depends(lab_services)):
    return lab.metrics.reference()


@router.get(
    "/mine",
    operation_id="metrics.mine",
    summary="Your own events per type per hour or day (nobody else's)",
    response_model=Mine,
)
def mine(
    by: Literal["hour", "day"] = Query("hour", description="count per UTC hour or per UTC day"),
    days: int = Query(7, ge=1, le=MINE_MAX_DAYS, description="how many days back from now"),
    user: User = Depends(current_member),
    lab=Depends(lab_services),
):
    return lab.metrics.mine(actor_id=user.user_id, by=by, days=days)


@router.get(
    "/fit", operation_id="metrics.fit", summary="A simulated scenario beside each public figure", response_model=Fit
)
def fit(scenario: Scenario = Query("default"), user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.metrics.fit(scenario=scenario)


@router.post(
    "/simulations",
    operation_id="metrics.simulate",
    summary="Run the rollout simulator into sim:<scenario>",
    response_model=Simulated,
    status_code=201,
)
def simulate(body: Simulate, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.metrics.simulate(**body.model_dump())


@router.delete(
    "/scenarios/{scenario}",
    operation_id="metrics.delete_scenario",
    summary="Remove a simulated scenario's events and settings",
    response_model=DeletedScenario,
)
def delete_scenario(scenario: Scenario, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.metrics.delete_scenario(scenario=scenario)


@router.post(
    "/exports",
    operation_id="metrics.export",
    summary="Write the events as hive-partitioned Parquet to a folder",
    response_model=Exported,
)
def export(body: Export, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.metrics.export(directory=body.directory, sources=body.sources)
