"""`sora-lab generate | remix | publish | unpublish | delete | verify | videos`.

Registered on the main typer app by sora_lab.cli.main. This module does not import sora_lab.cli.main
(that would be circular when run as `python -m sora_lab.cli`), so it carries its own two
small helpers with the same contract: --json prints one object, errors print one line on
stderr and exit 1.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from sora_lab.cli.common import HomeOpt, JsonOpt, ServerOpt, emit, fails_cleanly, open_lab
from sora_lab.core.home import atomic_writer

AsOpt = Annotated[str, typer.Option("--as", help="Act as this user (handle); default the operator @lab.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed (default: random, reported).")]
DraftOpt = Annotated[bool, typer.Option("--draft", help="Keep it in your drafts instead of publishing.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Also copy the finished MP4 to this file.")]
CameoOpt = Annotated[list[str] | None, typer.Option("--cameo", help="Cameo handle to feature (repeatable).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]
OptOpt = Annotated[
    list[str] | None,
    typer.Option("--opt", help="Pretrained option KEY=VALUE (steps=30, cpu_offload=true, audio_model=PATH, ...)."),
]


def _options(pairs: list[str] | None) -> dict:
    """['steps=30', 'cpu_offload=true', 'audio_model=/m/sa'] -> {'steps': 30, 'cpu_offload': True, ...}."""
    options = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--opt {pair!r}: write KEY=VALUE, e.g. --opt steps=30")
        try:
            options[key.strip()] = json.loads(raw)
        except ValueError:
            options[key.strip()] = raw
    return options


def _copy_out(lab, result: dict, out: Path) -> str:
    """Copy the finished MP4 to `out` atomically (download it when the lab is remote)."""
    out = out.expanduser().resolve()
    with atomic_writer(out) as dst:
        if lab.embedded:
            with open(result["path"], "rb") as src:
                shutil.copyfileobj(src, dst)
        else:
            with lab._http.stream("GET", f"/media/{result['media_path']}") as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    dst.write(chunk)
    return str(out)


def _summary(result: dict) -> dict:
    """The JSON a script wants from generate/remix: id, file, duration, backend, seed, timings."""
    return {
        "video_id": result["video_id"],
        "path": result["path"],
        "duration": result["duration"],
        "backend": result["backend"],
        "model": result["model"],
        "seed": result["seed"],
        "status": result["status"],
        "parent_id": result["parent_id"],
        "width": result["width"],
        "height": result["height"],
        "timings": result.get("timings", {}),
        "out": result.get("out"),
        "read_as": _read_as(result),
    }


def _read_as(result: dict) -> str | None:
    """What the tiny model's prompt reader read from a prompt in words it never trained on (else None)."""
    return ((result.get("provenance") or {}).get("clip") or {}).get("read_as")


def _human(result: dict) -> str:
    timings = result.get("timings") or {}
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items() if k != "total")
    lines = [
        f"{result['status']} {result['video_id']} ({result['duration']:.2f}s, {result['width']}x{result['height']}, "
        f"{result['backend']}, seed {result['seed']})",
        f"file: {result.get('out') or result['path']}",
    ]
    if timings:
        lines.append(f"took {timings.get('total', 0):.2f}s: {stages}")
    if read_as := _read_as(result):
        lines.append(f"read as: {read_as} (the prompt has words the model never trained on)")
    return "\n".join(lines)


def _run_job(lab, job: dict, as_user: str, quiet: bool) -> dict:
    from sora_lab.client import wait_for_job

    return wait_for_job(lab, job, as_user=as_user, bar="none" if quiet else "rich")


@fails_cleanly
def generate(
    prompt: Annotated[str, typer.Argument(help="What happens in the clip.")],
    seconds: Annotated[float, typer.Option("--seconds", help="Clip length in seconds (1-60).")] = 10.0,
    seed: SeedOpt = None,
    as_user: AsOpt = "lab",
    cameo: CameoOpt = None,
    backend: Annotated[
        str, typer.Option("--backend", help="tiny (shipped) or pretrained (diffusers folder).")
    ] = "tiny",
    model: Annotated[
        Path | None, typer.Option("--model", help="Model folder (pretrained: diffusers pipeline).")
    ] = None,
    draft: DraftOpt = False,
    out: OutOpt = None,
    opt: OptOpt = None,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a vertical clip with sound, watermark and C2PA; publish it (or keep a --draft)."""
    with open_lab(home, server) as lab:
        job = lab.videos.submit(
            as_user=as_user,
            prompt=prompt,
            seconds=seconds,
            seed=seed,
            cameos=list(cameo or []),
            backend=backend,
            model=str(model.expanduser().resolve()) if model else None,
            draft=draft,
            options=_options(opt),
        )
        result = _run_job(lab, job, as_user, quiet or as_json)
        if out:
            result["out"] = _copy_out(lab, result, out)
    emit(_summary(result), as_json, _human(result))


@fails_cleanly
def remix(
    video_id: Annotated[str, typer.Argument(help="The video to remix.")],
    prompt: Annotated[str, typer.Argument(help="The new prompt.")],
    seed: SeedOpt = None,
    as_user: AsOpt = "lab",
    cameo: CameoOpt = None,
    draft: DraftOpt = False,
    out: OutOpt = None,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A new clip from a new prompt that keeps the original as its parent (remix lineage)."""
    with open_lab(home, server) as lab:
        job = lab.videos.submit(
            as_user=as_user, prompt=prompt, seed=seed, cameos=list(cameo or []), draft=draft, remix_of=video_id
        )
        result = _run_job(lab, job, as_user, quiet or as_json)
        if out:
            result["out"] = _copy_out(lab, result, out)
    emit(_summary(result), as_json, _human(result))


@fails_cleanly
def publish(
    video_id: Annotated[str, typer.Argument(help="Your draft's id.")],
    as_user: AsOpt = "lab",
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a draft to the feed (the prompt policy and cameo consent are checked again)."""
    with open_lab(home, server) as lab:
        result = lab.videos.publish(as_user=as_user, video_id=video_id)
    emit(result, as_json, f"published {result['video_id']}")


@fails_cleanly
def unpublish(
    video_id: Annotated[str, typer.Argument(help="Your video's id.")],
    as_user: AsOpt = "lab",
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a video out of the feed, back to your drafts."""
    with open_lab(home, server) as lab:
        result = lab.videos.unpublish(as_user=as_user, video_id=video_id)
    emit(result, as_json, f"{result['video_id']} is a draft again")


@fails_cleanly
def delete(
    video_id: Annotated[str, typer.Argument(help="Your video's id.")],
    as_user: AsOpt = "lab",
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a video: its files go, its id stays for remix lineage."""
    with open_lab(home, server) as lab:
        result = lab.videos.delete(as_user=as_user, video_id=video_id)
    emit(result, as_json, f"deleted {result['video_id']}")


VERIFY_KEYS = ("c2pa_valid", "ai_generated", "generator", "creator", "tampered")


@fails_cleanly
def verify(
    file: Annotated[Path, typer.Argument(help="An MP4 to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Check a file's C2PA manifest; exits 1 when it is tampered or unsigned."""
    from sora_lab.provenance import verify as verify_file

    report = verify_file(file)
    result = {k: report[k] for k in VERIFY_KEYS} | {
        k: report[k] for k in ("signed", "prompt_sha256", "parent_video_id", "validation_state", "detail")
    }
    ok = report["c2pa_valid"] and not report["tampered"]
    if ok:
        human = (
            f"valid C2PA: AI-generated={report['ai_generated']}, generator {report['generator']}, "
            f"creator {report['creator']} ({report['detail']})"
        )
    else:
        human = f"NOT VALID: {'tampered' if report['tampered'] else 'unsigned'} ({report['detail']})"
    emit(result, as_json, human)
    if not ok:
        if not as_json:
            print(f"error: {file} is {'tampered' if report['tampered'] else 'unsigned'}", file=sys.stderr)
        raise typer.Exit(1)


@fails_cleanly
def videos(
    as_user: AsOpt = "lab",
    status: Annotated[str | None, typer.Option("--status", help="draft or published (default both).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List your videos (drafts and published)."""
    with open_lab(home, server) as lab:
        rows = lab.videos.list_mine(as_user=as_user, status=status, limit=limit)
        quota = lab.videos.limits(as_user=as_user)
    lines = [f"{r['video_id']}  {r['status']:<9} {r['duration']:>5.1f}s  {r['prompt'][:60]}" for r in rows]
    lines.append(f"{quota['used_today']}/{quota['daily_limit']} generations today")
    emit({"videos": rows, "limits": quota}, as_json, "\n".join(lines))


COMMANDS = [generate, remix, publish, unpublish, delete, verify, videos]


def register(app: typer.Typer) -> None:
    """Add the video commands to the main `sora-lab` app."""
    for command in COMMANDS:
        app.command(command.__name__)(command)
