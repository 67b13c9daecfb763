"""`sora-lab jobs [--all] | jobs cancel ID | sweep`: durable generation jobs and prompt sweeps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sora_lab.cli.common import Cli, lab_command
from sora_lab.core.errors import InputError

jobs_app = typer.Typer()

AsOpt = Annotated[str, typer.Option("--as", help="Act as this user (handle); default the operator @lab.")]


@jobs_app.command()
@lab_command
def jobs(
    cli: Cli,
    action: Annotated[str | None, typer.Argument(help="'cancel' to cancel JOB_ID; leave out to list.")] = None,
    job_id: Annotated[str | None, typer.Argument(help="The job to cancel.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every job of yours, however old.")] = False,
    as_user: AsOpt = "lab",
) -> None:
    """List your generation jobs (waiting, running, ended in the last day), or `jobs cancel ID`."""
    if action is None:
        rows = cli.lab.videos.jobs(as_user=as_user, all=everything)
        lines = [f"{j['job_id']}  {j['state']:<9} {j['stage']:<9} {round(j['progress'] * 100):>3}%  "
                 f"try {j['attempts']}  {j['prompt'][:50]}" for j in rows] or ["no jobs"]
        cli.emit({"jobs": rows}, "\n".join(lines))
        return
    if action != "cancel" or not job_id:
        raise InputError("jobs: use `sora-lab jobs [--all]` to list, or `sora-lab jobs cancel JOB_ID`")
    job = cli.lab.videos.cancel_job(as_user=as_user, job_id=job_id)
    cli.emit(job, f"{job['job_id']}: {job['state']}" + (" (stops at its next stage)" if job["state"] == "running"
                                                        else ""))


def parse_seeds(text: str) -> list[int]:
    """'0-3' -> [0, 1, 2, 3]; '1,5,9' -> [1, 5, 9]; both mixed: '0-1,7'."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            seeds.extend(range(int(low), int(high) + 1) if dash else [int(low)])
    except ValueError:
        raise InputError(f"--seeds {text!r}: write a range or a list, e.g. 0-3 or 1,5,9") from None
    return seeds


def parse_values(pairs: list[str] | None) -> dict[str, list]:
    """['steps=8,16', 'guidance=3,5'] -> {'steps': [8, 16], 'guidance': [3, 5]}."""
    options: dict[str, list] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise InputError(f"--opt {pair!r}: write KEY=V1,V2, e.g. --opt steps=8,16")
        values = []
        for value in raw.split(","):
            try:
                values.append(json.loads(value))
            except ValueError:
                values.append(value.strip())
        options[key.strip()] = values
    return options


def read_prompts(items: list[str]) -> list[str]:
    """Each --prompts is a file of prompts (one a line; blank lines and # comments skipped) or a prompt."""
    prompts: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if len(item) < 4096 and "\n" not in item and path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            prompts.extend(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
        else:
            prompts.append(item)
    return prompts


@jobs_app.command()
@lab_command
def sweep(
    cli: Cli,
    prompts: Annotated[list[str], typer.Option("--prompts", help="A prompt, or a file of prompts (repeatable).")],
    seeds: Annotated[str, typer.Option("--seeds", help="Seeds: a range or a list, e.g. 0-3 or 1,5,9.")] = "0",
    opt: Annotated[list[str] | None, typer.Option(
        "--opt", help="A setting and its values, KEY=V1,V2 (repeatable): steps=8,16 guidance=3,5.")] = None,
    seconds: Annotated[float, typer.Option("--seconds", help="Each clip's length in seconds.")] = 10.0,
    backend: Annotated[str, typer.Option("--backend", help="tiny or pretrained.")] = "tiny",
    model: Annotated[Path | None, typer.Option("--model", help="Model folder (pretrained).")] = None,
    order_by: Annotated[str, typer.Option("--order-by", help="Sort cells by cell, wall_s, color, ...")] = "cell",
    detach: Annotated[bool, typer.Option("--detach", help="Queue and print the sweep id (needs a server).")] = False,
    as_user: AsOpt = "lab",
) -> None:
    """Queue prompts x seeds x settings as drafts, wait for every clip, print each cell's figures."""
    options = parse_values(opt)
    seed_list = parse_seeds(seeds)
    if detach and cli.lab.embedded:
        raise InputError("--detach needs a running server (`sora-lab serve`): an embedded lab stops with this command")
    started = cli.lab.videos.sweep(as_user=as_user, prompts=read_prompts(prompts), seeds=seed_list, options=options,
                                   seconds=seconds, backend=backend,
                                   model=str(model.expanduser().resolve()) if model else None)
    if detach:
        cli.emit(started, f"{started['sweep_id']}: {len(started['cells'])} cells queued")
        return
    from sora_lab.client import wait_for_sweep

    result = wait_for_sweep(cli.lab, started, as_user=as_user, bar="none" if cli.as_json else "rich",
                            order_by=order_by)
    lines = [f"{result['sweep_id']}: {result['done']} done, {result['failed']} failed"]
    for c in result["cells"]:
        wall = f"{c['wall_s']:.2f}s" if c["wall_s"] is not None else "-"
        read = "/".join(str(c[k]) for k in ("color", "shape", "motion")) if c["color"] or c["shape"] else "-"
        lines.append(f"{c['cell']:>3} {c['state']:<9} seed {c['seed']:<4} {json.dumps(c['settings']):<32} {wall:>7} "
                     f"{read:<28} {c['video_id'] or ''}  {c['prompt'][:40]}")
    cli.emit(result, "\n".join(lines))
