"""`sora-lab metrics …`: summary, series, simulate, import, export, fit, sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sora_lab.cli.common import Cli, lab_command

metrics_app = typer.Typer(help="Growth metrics: downloads vs active users, funnel, retention; simulate; import.",
                          no_args_is_help=True)

SourceOpt = Annotated[
    list[str] | None,
    typer.Option("--source", help="Event source to count: live, import or sim:<scenario>; repeat for several "
                                  "(default: live only)."),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="First UTC day, YYYY-MM-DD.")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last UTC day, YYYY-MM-DD.")]
RegionOpt = Annotated[list[str] | None, typer.Option("--region", help="Only these regions (repeatable), e.g. US.")]


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


@metrics_app.command("summary")
@lab_command
def summary(
    cli: Cli,
    source: SourceOpt = None, start: StartOpt = None, end: EndOpt = None, region: RegionOpt = None,
    parquet: Annotated[str | None, typer.Option(
        "--parquet", help="Compute over events exported by `metrics export` (a folder or URL) here, "
                          "with DuckDB, instead of asking the lab.")] = None,
) -> None:
    """Every growth metric: downloads, DAU/WAU/MAU, funnel, retention, invites, regions."""
    if parquet is not None:
        from sora_lab.metrics.parquet import summary as parquet_summary

        result = parquet_summary(parquet, sources=source, start=start, end=end, regions=region)
    else:
        result = cli.lab.metrics.summary(sources=source, start=start, end=end, regions=region)
    t, r = result["totals"], result["retention"]
    if not t:
        human = f"no events for sources {', '.join(result['filters']['sources'])}"
    else:
        human = (
            f"{result['range']['start']} .. {result['range']['end']} ({', '.join(result['filters']['sources'])})\n"
            f"downloads {t['downloads']:,}  active users {t['active_users']:,}  "
            f"never active {t['never_active_installs']:,}\n"
            f"DAU/WAU/MAU (last day) {t['dau_last_day']:,} / {t['wau_last_day']:,} / {t['mau_last_day']:,}  "
            f"stickiness {_pct(t['stickiness_last_day'])}\n"
            f"retention D1 {_pct(r.get('d1'))}  D7 {_pct(r.get('d7'))}  D30 {_pct(r.get('d30'))}\n"
            f"K-factor {result['invites'].get('k_factor')}  invite-tree depth {result['invites'].get('max_depth')}\n"
            f"{result['definition']}"
        )
    cli.emit(result, human)


@metrics_app.command("series")
@lab_command
def series(
    cli: Cli,
    name: Annotated[str, typer.Argument(help="downloads, cumulative_downloads, reinstalls, dau, wau, mau, "
                                             "stickiness, generations, generations_per_dau")],
    source: SourceOpt = None, start: StartOpt = None, end: EndOpt = None, region: RegionOpt = None,
) -> None:
    """One daily series as (day, value) rows."""
    result = cli.lab.metrics.series(metric=name, sources=source, start=start, end=end, regions=region)
    cli.emit(result, "\n".join(f"{row['day']}  {row['value']}" for row in result["rows"]))


@metrics_app.command("simulate")
@lab_command
def simulate(
    cli: Cli,
    days: Annotated[int, typer.Option(help="Days to simulate from launch.")] = 35,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same events.")] = 7,
    name: Annotated[str, typer.Option(help="Scenario name; events get source sim:<name>.")] = "default",
    scale: Annotated[float, typer.Option(help="Population scale (1.0 = full-size launch, 0.01 = demo).")] = 1.0,
    invites_per_user: Annotated[int | None, typer.Option(help="Invite codes per member.")] = None,
    open_day: Annotated[int | None, typer.Option(help="Day the invite requirement is lifted (-1: never).")] = None,
    generation_limit: Annotated[int | None, typer.Option(help="Daily generations per user.")] = None,
) -> None:
    """Simulate an invite-only launch and write its events (replaces the scenario's earlier events)."""
    result = cli.lab.metrics.simulate(
        scenario=name, days=days, seed=seed, scale=scale, invites_per_user=invites_per_user, open_day=open_day,
        daily_generation_limit=generation_limit,
    )
    lines = [
        f"sim:{name}: {result['events']:,} events, {result['people']:,} people "
        f"(simulated {result['simulate_s']} s, ingest {result['ingest_s']} s = {result['ingest_events_per_s']:,}/s)",
        "fit against public figures (counts scaled to full size):",
    ]
    lines += _fit_lines(result["fit"])
    cli.emit(result, "\n".join(lines))


def _fit_lines(fit_rows: list[dict]) -> list[str]:
    from sora_lab.metrics.reference import fit_for_display  # pandas/pyarrow: loaded by metrics commands only

    return [f"  {row['figure']:<45} reference {row['reference']:>12}  simulated {row['simulated']:>12}  "
            f"ratio {row['ratio']:>5}  ({row['note']})" for row in fit_for_display(fit_rows)]


@metrics_app.command("fit")
@lab_command
def fit(cli: Cli, scenario: Annotated[str, typer.Option(help="Stored scenario name.")] = "default") -> None:
    """How a stored scenario compares with each public launch figure."""
    result = cli.lab.metrics.fit(scenario=scenario)
    cli.emit(result, "\n".join([f"sim:{scenario} against public figures (counts scaled to full size):",
                                 *_fit_lines(result["fit"])]))


@metrics_app.command("import")
@lab_command
def import_(
    cli: Cli,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet with columns date, metric, value, source [, app].")],
    app_name: Annotated[str, typer.Option("--app", help="App name for rows without an app column.")] = "Sora",
) -> None:
    """Import daily series (published or your own figures) to compare with the simulation."""
    from sora_lab.metrics.importer import read_series_file  # pandas/pyarrow: loaded by metrics commands only

    rows = read_series_file(file)
    result = cli.lab.metrics.import_series(rows=rows, app=app_name)
    cli.emit(result, f"stored {result['stored']} rows ({', '.join(result['metrics'])}) "
                     f"{result['first']} .. {result['last']}")


@metrics_app.command("export")
@lab_command
def export(
    cli: Cli,
    directory: Annotated[Path, typer.Argument(help="Folder for the Parquet files (on the machine that holds "
                                                   "the lab); created if missing.")],
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="Only this source (repeatable); default: every source.")] = None,
) -> None:
    """Events as hive-partitioned Parquet (source=…/day=…/): only changed days, each replaced atomically."""
    result = cli.lab.metrics.export(directory=str(directory.expanduser().resolve()), sources=source)
    cli.emit(result, f"wrote {len(result['written'])} days ({result['events_written']:,} events), "
                     f"{result['unchanged_days']} unchanged, {len(result['removed'])} removed -> {result['directory']}")


@metrics_app.command("sources")
@lab_command
def sources(cli: Cli) -> None:
    """Event sources (live, sim:<scenario>, import), imported series and stored scenarios."""
    cli.emit(cli.lab.metrics.sources())
