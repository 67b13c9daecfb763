"""`sora-lab generate | remix | publish | unpublish | delete | verify | trace | videos`: make and manage clips."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from sora_lab.cli.common import Cli, json_command, lab_command
from sora_lab.core.errors import InputError
from sora_lab.core.home import atomic_writer

videos_app = typer.Typer()

AsOpt = Annotated[str, typer.Option("--as", help="Act as this user (handle); default the operator @lab.")]
YourVideoArg = Annotated[str, typer.Argument(help="Your video's id.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed (default: random, reported).")]
DraftOpt = Annotated[bool, typer.Option("--draft", help="Keep it in your drafts instead of publishing.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Also copy the finished MP4 to this file.")]
CameoOpt = Annotated[list[str] | None, typer.Option("--cameo", help="Cameo handle to feature (repeatable).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]
OptOpt = Annotated[
    list[str] | None,
    typer.Option("--opt", help="Backend option KEY=VALUE: tiny steps, guidance, shift; pretrained steps=30, "
                 "cpu_offload=true, audio_model=PATH, ..."),
]
VERIFY_KEYS = ("c2pa_valid", "ai_generated", "generator", "creator", "tampered", "signed", "prompt_sha256",
               "parent_video_id", "validation_state", "detail")


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


def _copy_out(lab, result: dict, out: Path, as_user: str) -> str:
    """Copy the finished MP4 to `out` atomically (download it when the lab is remote)."""
    out = out.expanduser().resolve()
    with atomic_writer(out) as dst:
        if lab.embedded:
            with open(result["path"], "rb") as src:
                shutil.copyfileobj(src, dst)
        else:
            import httpx

            with httpx.stream("GET", lab.media_url(result["media_path"]), headers=lab.media_headers(as_user),
                              timeout=120) as response:
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


def _finish(cli: Cli, job: dict, as_user: str, quiet: bool, out: Path | None) -> None:
    """Wait for a generation job (with a progress bar unless --quiet or --json), copy it --out, print it."""
    from sora_lab.client import wait_for_job

    result = wait_for_job(cli.lab, job, as_user=as_user, bar="none" if quiet or cli.as_json else "rich")
    if out:
        result["out"] = _copy_out(cli.lab, result, out, as_user)
    cli.emit(_summary(result), _human(result))


@videos_app.command()
@lab_command
def generate(
    cli: Cli,
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
    detach: Annotated[bool, typer.Option(
        "--detach", help="Queue it, print the job id and return (needs a server; see `sora-lab jobs`).")] = False,
) -> None:
    """Generate a vertical clip with sound, watermark and C2PA; publish it (or keep a --draft)."""
    options = _options(opt)  # a malformed --opt fails before the lab opens
    if detach and cli.lab.embedded:
        raise InputError("--detach needs a running server (`sora-lab serve`): an embedded lab stops with this "
                         "command, so the job would wait until the lab is next served")
    job = cli.lab.videos.submit(
        as_user=as_user,
        prompt=prompt,
        seconds=seconds,
        seed=seed,
        cameos=list(cameo or []),
        backend=backend,
        model=str(model.expanduser().resolve()) if model else None,
        draft=draft,
        options=options,
    )
    if detach:
        cli.emit(job, f"{job['job_id']} queued (position {job['position']}, seed {job['seed']}); "
                      f"`sora-lab jobs` shows it")
        return
    _finish(cli, job, as_user, quiet, out)


@videos_app.command()
@lab_command
def remix(
    cli: Cli,
    video_id: Annotated[str, typer.Argument(help="The video to remix.")],
    prompt: Annotated[str, typer.Argument(help="The new prompt.")],
    seed: SeedOpt = None,
    as_user: AsOpt = "lab",
    cameo: CameoOpt = None,
    draft: DraftOpt = False,
    out: OutOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """A new clip from a new prompt that keeps the original as its parent (remix lineage)."""
    job = cli.lab.videos.submit(
        as_user=as_user, prompt=prompt, seed=seed, cameos=list(cameo or []), draft=draft, remix_of=video_id
    )
    _finish(cli, job, as_user, quiet, out)


@videos_app.command()
@lab_command
def publish(cli: Cli, video_id: Annotated[str, typer.Argument(help="Your draft's id.")],
            as_user: AsOpt = "lab") -> None:
    """Publish a draft to the feed (the prompt policy and cameo consent are checked again)."""
    result = cli.lab.videos.publish(as_user=as_user, video_id=video_id)
    cli.emit(result, f"published {result['video_id']}")


@videos_app.command()
@lab_command
def unpublish(cli: Cli, video_id: YourVideoArg, as_user: AsOpt = "lab") -> None:
    """Take a video out of the feed, back to your drafts."""
    result = cli.lab.videos.unpublish(as_user=as_user, video_id=video_id)
    cli.emit(result, f"{result['video_id']} is a draft again")


@videos_app.command()
@lab_command
def delete(cli: Cli, video_id: YourVideoArg, as_user: AsOpt = "lab") -> None:
    """Delete a video: its files go, its id stays for remix lineage."""
    result = cli.lab.videos.delete(as_user=as_user, video_id=video_id)
    cli.emit(result, f"deleted {result['video_id']}")


@videos_app.command()
@json_command
def verify(cli: Cli, file: Annotated[Path, typer.Argument(help="An MP4 to check.")]) -> None:
    """Check a file's C2PA manifest; exits 1 when it is tampered or unsigned."""
    from sora_lab.provenance import verify as verify_file

    report = verify_file(file)
    result = {k: report[k] for k in VERIFY_KEYS}
    ok = report["c2pa_valid"] and not report["tampered"]
    if ok:
        human = (
            f"valid C2PA: AI-generated={report['ai_generated']}, generator {report['generator']}, "
            f"creator {report['creator']} ({report['detail']})"
        )
    else:
        human = f"NOT VALID: {'tampered' if report['tampered'] else 'unsigned'} ({report['detail']})"
    if not report["signed"]:  # a re-encoded or stripped copy: its content may still name the clip
        result["hint"] = f"no manifest: run `sora-lab trace {file}` to look for this lab's watermark and fingerprint"
        human += f"\n{result['hint']}"
    cli.emit(result, human)
    if not ok:
        if not cli.as_json:
            print(f"error: {file} is {'tampered' if report['tampered'] else 'unsigned'}", file=sys.stderr)
        raise typer.Exit(1)


@videos_app.command()
@lab_command
def trace(cli: Cli, file: Annotated[Path, typer.Argument(help="A video file that may copy a lab clip.")],
          as_user: AsOpt = "lab") -> None:
    """Which lab clip is FILE a copy of (manifest, invisible watermark, fingerprint); exits 1 on no match."""
    from sora_lab.provenance.trace import MAX_TRACE_BYTES

    if not file.is_file():
        raise InputError(f"file {file}: no such file")
    if file.stat().st_size > MAX_TRACE_BYTES:
        raise InputError(f"file {file}: over the {MAX_TRACE_BYTES // 2**20} MiB a trace reads")
    result = cli.lab.provenance.trace(as_user=as_user, video=file.read_bytes())
    lines = [result["detail"]]
    for match in result["matches"]:
        said = ", ".join(f"{name} ({_signal_text(value)})" for name, value in match["signals"].items() if value)
        who = f"{match['video_id']} by {match['creator']}, {match['created_at']}, {match['status']}" if match[
            "visible"] else "a clip you cannot see"
        lines.append(f"  {who}: {said}")
    cli.emit(result, "\n".join(lines))
    if not result["matched"]:
        raise typer.Exit(1)


def _signal_text(signal: dict) -> str:
    if "distance" in signal:
        return f"{signal['distance']} bits, {signal['matched_seconds']} s matched"
    if "bit_agreement" in signal:
        return f"key {signal['watermark_key']}, bit agreement {signal['bit_agreement']}"
    return "valid"


@videos_app.command()
@lab_command
def videos(
    cli: Cli,
    as_user: AsOpt = "lab",
    status: Annotated[str | None, typer.Option("--status", help="draft or published (default both).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
) -> None:
    """List your videos (drafts and published)."""
    rows = cli.lab.videos.list_mine(as_user=as_user, status=status, limit=limit)
    quota = cli.lab.videos.limits(as_user=as_user)
    lines = [f"{r['video_id']}  {r['status']:<9} {r['duration']:>5.1f}s  {r['prompt'][:60]}" for r in rows]
    lines.append(f"{quota['used_today']}/{quota['daily_limit']} generations today")
    cli.emit({"videos": rows, "limits": quota}, "\n".join(lines))
