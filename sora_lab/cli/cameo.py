"""`sora-lab cameo …`: register your likeness, choose who may use it, see and remove every use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sora_lab.cli.common import AsOpt, Cli, lab_command
from sora_lab.core.errors import InputError

cameo_app = typer.Typer(help="Cameos: register your likeness, choose who may use it, see every use.",
                        no_args_is_help=True)

HandleArg = Annotated[str, typer.Argument(help="The cameo handle, e.g. maya or @maya.")]


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"--{what} {path}: no such file")
    return path.read_bytes()


@cameo_app.command("challenge")
@lab_command
def cameo_challenge(cli: Cli, as_user: AsOpt) -> None:
    """Start a liveness challenge: say the phrase on camera, then `cameo create --video ... --challenge ID`."""
    result = cli.lab.cameos.start_challenge(as_user=as_user)
    cli.emit(result, f"say: \"{result['phrase']}\"  (challenge {result['challenge_id']}, "
                     f"expires {result['expires_at']})")


@cameo_app.command("create")
@lab_command
def cameo_create(
    cli: Cli,
    as_user: AsOpt,
    image: Annotated[Path | None, typer.Option("--image", help="A photo of your face (PNG/JPEG).")] = None,
    video: Annotated[Path | None, typer.Option("--video", help="A liveness clip saying the challenge phrase.")] = None,
    challenge: Annotated[str | None, typer.Option("--challenge", help="Challenge id (for --video).")] = None,
    handle: Annotated[str | None, typer.Option(
        "--handle", help="A character's name (it becomes @you/NAME); a person cameo takes your handle.")] = None,
    character: Annotated[bool, typer.Option(
        "--character", help="A pet, object or drawing: it must show no human face.")] = False,
    permission: Annotated[str, typer.Option(help="only_me | approved | mutuals | everyone")] = "only_me",
    restrict: Annotated[list[str] | None, typer.Option("--restrict", help="A rule; repeat for more.")] = None,
) -> None:
    """Register a cameo from a photo or a liveness video."""
    if (image is None) == (video is None):
        raise InputError("give exactly one of --image FILE or --video FILE")
    result = cli.lab.cameos.create(
        as_user=as_user,
        image=_read(image, "image"),
        video=_read(video, "video"),
        challenge_id=challenge,
        handle=handle,
        kind="character" if character else "person",
        permission=permission,
        restrictions=list(restrict or []),
    )
    cli.emit(result, f"cameo @{result['handle']} ({result['kind']}, {result['permission']}) registered")


@cameo_app.command("list")
@lab_command
def cameo_list(
    cli: Cli,
    as_user: AsOpt,
    available: Annotated[bool, typer.Option("--available", help="Others' cameos you may use.")] = False,
) -> None:
    """Your cameos (or, with --available, other people's you may use)."""
    result = cli.lab.cameos.available(as_user=as_user) if available else cli.lab.cameos.mine(as_user=as_user)
    lines = [f"@{c['handle']} ({c['kind']}{', ' + c['permission'] if 'permission' in c else ''})" for c in result]
    cli.emit(result, "\n".join(lines) or "no cameos")


@cameo_app.command("show")
@lab_command
def cameo_show(cli: Cli, handle: HandleArg, as_user: AsOpt) -> None:
    """One cameo: kind, permission, whether you may use it (owners also see rules and people)."""
    cli.emit(cli.lab.cameos.get(as_user=as_user, handle=handle))


@cameo_app.command("permission")
@lab_command
def cameo_permission(
    cli: Cli,
    handle: HandleArg,
    level: Annotated[str, typer.Argument(help="only_me | approved | mutuals | everyone")],
    as_user: AsOpt,
) -> None:
    """Set who may use your cameo; videos that lose permission leave feeds on the next read."""
    result = cli.lab.cameos.set_permission(as_user=as_user, handle=handle, permission=level)
    cli.emit(result, f"@{result['handle']}: {result['permission']}")


@cameo_app.command("approve")
@lab_command
def cameo_approve(cli: Cli, handle: HandleArg, user: Annotated[str, typer.Argument(help="Who to approve.")],
                  as_user: AsOpt) -> None:
    """Approve one person to use your cameo."""
    result = cli.lab.cameos.approve(as_user=as_user, handle=handle, user=user)
    cli.emit(result, f"@{result['handle']}: approved {', '.join(result['approved']) or 'nobody'}")


@cameo_app.command("revoke")
@lab_command
def cameo_revoke(cli: Cli, handle: HandleArg, user: Annotated[str, typer.Argument(help="Who to revoke.")],
                 as_user: AsOpt) -> None:
    """Revoke one person at every permission level; their videos with your cameo leave feeds."""
    result = cli.lab.cameos.revoke(as_user=as_user, handle=handle, user=user)
    cli.emit(result, f"@{result['handle']}: revoked {', '.join(result['revoked'])}")


@cameo_app.command("restrict")
@lab_command
def cameo_restrict(
    cli: Cli,
    handle: HandleArg,
    as_user: AsOpt,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="A rule; repeat. Replaces all rules.")] = None,
) -> None:
    """Replace your cameo's rules, e.g. --rule 'no political content' --rule 'always wearing a hat'."""
    result = cli.lab.cameos.set_restrictions(as_user=as_user, handle=handle, restrictions=list(rule or []))
    lines = [f"  {r['kind']:<13} {r['text']}" for r in result["restrictions"]]
    cli.emit(result, f"@{result['handle']} rules:\n" + ("\n".join(lines) or "  none"))


@cameo_app.command("uses")
@lab_command
def cameo_uses(cli: Cli, handle: HandleArg, as_user: AsOpt) -> None:
    """Every video and draft (anyone's) that uses your cameo."""
    result = cli.lab.cameos.uses(as_user=as_user, handle=handle)
    lines = [f"{u['video_id']}  @{u['author']}  {u['status']:<9} {_state(u)}  {u['prompt'][:60]}" for u in result]
    cli.emit(result, "\n".join(lines) or "no videos use this cameo")


def _state(use: dict) -> str:
    return "removed" if use["removed"] else "visible" if use["visible"] else "hidden"


@cameo_app.command("remove-use")
@lab_command
def cameo_remove_use(
    cli: Cli,
    handle: HandleArg,
    video_id: Annotated[str, typer.Argument(help="The video to remove from.")],
    as_user: AsOpt,
) -> None:
    """Remove your cameo from someone's video: it leaves every feed."""
    result = cli.lab.cameos.remove_use(as_user=as_user, handle=handle, video_id=video_id)
    cli.emit(result, f"removed @{result['cameo']} from {result['video_id']}")


@cameo_app.command("audit")
@lab_command
def cameo_audit(
    cli: Cli,
    handle: HandleArg,
    as_user: AsOpt,
    limit: Annotated[int, typer.Option(help="Most recent N entries.")] = 50,
) -> None:
    """Every use of and decision about your cameo, newest first."""
    result = cli.lab.cameos.audit(as_user=as_user, handle=handle, limit=limit)
    lines = [f"{e['ts']}  {e['type']:<18} @{e['actor']}  {e['props']}" for e in result]
    cli.emit(result, "\n".join(lines) or "no entries")


@cameo_app.command("delete")
@lab_command
def cameo_delete(cli: Cli, handle: HandleArg, as_user: AsOpt) -> None:
    """Delete your cameo and its reference image; videos using it leave feeds."""
    result = cli.lab.cameos.delete(as_user=as_user, handle=handle)
    cli.emit(result, f"deleted @{result['deleted']}")
