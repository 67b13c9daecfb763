"""`sora-lab cameo …`, `sora-lab policy …` and `sora-lab rights …` commands.

Each has --json and, on failure, prints one `error: …` line and exits 1.
`policy check` exits 0 with the decision (allowed or not): a refusal is an answer, not an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sora_lab.cli.common import AsOpt, HomeOpt, JsonOpt, ServerOpt, emit, fails_cleanly, open_lab  # noqa: E402
from sora_lab.core.errors import InputError

cameo_app = typer.Typer(help="Cameos: register your likeness, choose who may use it, see every use.",
                        no_args_is_help=True)
policy_app = typer.Typer(help="The prompt policy: check a prompt before generating.", no_args_is_help=True)
rights_app = typer.Typer(help="Rights holders and the public-figure / character registries (operator).",
                         no_args_is_help=True)

HandleArg = Annotated[str, typer.Argument(help="The cameo handle, e.g. maya or @maya.")]


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"--{what} {path}: no such file")
    return path.read_bytes()


# --- cameo ---------------------------------------------------------------------------------------


@cameo_app.command("challenge")
@fails_cleanly
def cameo_challenge(as_user: AsOpt, home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Start a liveness challenge: say the phrase on camera, then `cameo create --video ... --challenge ID`."""
    with open_lab(home, server) as lab:
        result = lab.cameos.start_challenge(as_user=as_user)
    emit(result, as_json, f"say: \"{result['phrase']}\"  (challenge {result['challenge_id']}, "
                          f"expires {result['expires_at']})")


@cameo_app.command("create")
@fails_cleanly
def cameo_create(
    as_user: AsOpt,
    image: Annotated[Path | None, typer.Option("--image", help="A photo of your face (PNG/JPEG).")] = None,
    video: Annotated[Path | None, typer.Option("--video", help="A liveness clip saying the challenge phrase.")] = None,
    challenge: Annotated[str | None, typer.Option("--challenge", help="Challenge id (for --video).")] = None,
    handle: Annotated[str | None, typer.Option("--handle", help="Cameo handle (default: yours).")] = None,
    character: Annotated[bool, typer.Option("--character", help="A pet, object or drawing: no face check.")] = False,
    permission: Annotated[str, typer.Option(help="only_me | approved | mutuals | everyone")] = "only_me",
    restrict: Annotated[list[str] | None, typer.Option("--restrict", help="A rule; repeat for more.")] = None,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a cameo from a photo or a liveness video."""
    if (image is None) == (video is None):
        raise InputError("give exactly one of --image FILE or --video FILE")
    with open_lab(home, server) as lab:
        result = lab.cameos.create(
            as_user=as_user,
            image=_read(image, "image"),
            video=_read(video, "video"),
            challenge_id=challenge,
            handle=handle,
            kind="character" if character else "person",
            permission=permission,
            restrictions=list(restrict or []),
        )
    emit(result, as_json, f"cameo @{result['handle']} ({result['kind']}, {result['permission']}) registered")


@cameo_app.command("list")
@fails_cleanly
def cameo_list(
    as_user: AsOpt,
    available: Annotated[bool, typer.Option("--available", help="Others' cameos you may use.")] = False,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Your cameos (or, with --available, other people's you may use)."""
    with open_lab(home, server) as lab:
        result = lab.cameos.available(as_user=as_user) if available else lab.cameos.mine(as_user=as_user)
    lines = [f"@{c['handle']} ({c['kind']}{', ' + c['permission'] if 'permission' in c else ''})" for c in result]
    emit(result, as_json, "\n".join(lines) or "no cameos")


@cameo_app.command("show")
@fails_cleanly
def cameo_show(handle: HandleArg, as_user: AsOpt, home: HomeOpt = None, server: ServerOpt = None,
               as_json: JsonOpt = False) -> None:
    """One cameo: kind, permission, whether you may use it (owners also see rules and people)."""
    with open_lab(home, server) as lab:
        result = lab.cameos.get(as_user=as_user, handle=handle)
    emit(result, as_json)


@cameo_app.command("permission")
@fails_cleanly
def cameo_permission(
    handle: HandleArg,
    level: Annotated[str, typer.Argument(help="only_me | approved | mutuals | everyone")],
    as_user: AsOpt,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set who may use your cameo; videos that lose permission leave feeds on the next read."""
    with open_lab(home, server) as lab:
        result = lab.cameos.set_permission(as_user=as_user, handle=handle, permission=level)
    emit(result, as_json, f"@{result['handle']}: {result['permission']}")


@cameo_app.command("approve")
@fails_cleanly
def cameo_approve(handle: HandleArg, user: Annotated[str, typer.Argument(help="Who to approve.")], as_user: AsOpt,
                  home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Approve one person to use your cameo."""
    with open_lab(home, server) as lab:
        result = lab.cameos.approve(as_user=as_user, handle=handle, user=user)
    emit(result, as_json, f"@{result['handle']}: approved {', '.join(result['approved']) or 'nobody'}")


@cameo_app.command("revoke")
@fails_cleanly
def cameo_revoke(handle: HandleArg, user: Annotated[str, typer.Argument(help="Who to revoke.")], as_user: AsOpt,
                 home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke one person at every permission level; their videos with your cameo leave feeds."""
    with open_lab(home, server) as lab:
        result = lab.cameos.revoke(as_user=as_user, handle=handle, user=user)
    emit(result, as_json, f"@{result['handle']}: revoked {', '.join(result['revoked'])}")


@cameo_app.command("restrict")
@fails_cleanly
def cameo_restrict(
    handle: HandleArg,
    as_user: AsOpt,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="A rule; repeat. Replaces all rules.")] = None,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace your cameo's rules, e.g. --rule 'no political content' --rule 'always wearing a hat'."""
    with open_lab(home, server) as lab:
        result = lab.cameos.set_restrictions(as_user=as_user, handle=handle, restrictions=list(rule or []))
    lines = [f"  {r['kind']:<13} {r['text']}" for r in result["restrictions"]]
    emit(result, as_json, f"@{result['handle']} rules:\n" + ("\n".join(lines) or "  none"))


@cameo_app.command("uses")
@fails_cleanly
def cameo_uses(handle: HandleArg, as_user: AsOpt, home: HomeOpt = None, server: ServerOpt = None,
               as_json: JsonOpt = False) -> None:
    """Every video and draft (anyone's) that uses your cameo."""
    with open_lab(home, server) as lab:
        result = lab.cameos.uses(as_user=as_user, handle=handle)
    lines = [f"{u['video_id']}  @{u['author']}  {u['status']:<9} {_state(u)}  {u['prompt'][:60]}" for u in result]
    emit(result, as_json, "\n".join(lines) or "no videos use this cameo")


def _state(use: dict) -> str:
    return "removed" if use["removed"] else "visible" if use["visible"] else "hidden"


@cameo_app.command("remove-use")
@fails_cleanly
def cameo_remove_use(handle: HandleArg, video_id: Annotated[str, typer.Argument(help="The video to remove from.")],
                     as_user: AsOpt, home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Remove your cameo from someone's video: it leaves every feed."""
    with open_lab(home, server) as lab:
        result = lab.cameos.remove_use(as_user=as_user, handle=handle, video_id=video_id)
    emit(result, as_json, f"removed @{result['cameo']} from {result['video_id']}")


@cameo_app.command("audit")
@fails_cleanly
def cameo_audit(
    handle: HandleArg,
    as_user: AsOpt,
    limit: Annotated[int, typer.Option(help="Most recent N entries.")] = 50,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every use of and decision about your cameo, newest first."""
    with open_lab(home, server) as lab:
        result = lab.cameos.audit(as_user=as_user, handle=handle, limit=limit)
    lines = [f"{e['ts']}  {e['type']:<18} @{e['actor']}  {e['props']}" for e in result]
    emit(result, as_json, "\n".join(lines) or "no entries")


@cameo_app.command("delete")
@fails_cleanly
def cameo_delete(handle: HandleArg, as_user: AsOpt, home: HomeOpt = None, server: ServerOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Delete your cameo and its reference image; videos using it leave feeds."""
    with open_lab(home, server) as lab:
        result = lab.cameos.delete(as_user=as_user, handle=handle)
    emit(result, as_json, f"deleted @{result['deleted']}")


# --- policy ----------------------------------------------------------------------------------------


@policy_app.command("check")
@fails_cleanly
def policy_check(
    prompt: Annotated[str, typer.Argument(help="The prompt to check.")],
    as_user: AsOpt,
    cameo: Annotated[list[str] | None, typer.Option("--cameo", help="A cameo handle to use; repeat.")] = None,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Would this prompt be generated for this user? Prints the decision and every reason."""
    with open_lab(home, server) as lab:
        result = lab.policy.check(as_user=as_user, prompt=prompt, cameos=list(cameo or []))
    if result["allowed"]:
        extra = "".join(f"\n  + {i}" for i in result["instructions"] + result.get("attributions", []))
        human = "allowed" + extra
    else:
        human = "refused:" + "".join(
            f"\n  [{r['code']}] {r['message']}"
            + (f" — \u201c{r['words']}\u201d" if r["words"] and r["words"] not in r["message"] else "")
            + f"\n      fix: {r['fix']}"
            for r in result["reasons"]
        )
    emit(result, as_json, human)


# --- rights ----------------------------------------------------------------------------------------


@rights_app.command("register")
@fails_cleanly
def rights_register(
    holder: Annotated[str, typer.Argument(help="Rights holder, e.g. 'Example Studios'.")],
    ip_name: Annotated[str, typer.Argument(help="The character or work, e.g. 'Captain Comet'.")],
    policy: Annotated[str, typer.Option(help="block | allow | allow_with_attribution")],
    alias: Annotated[list[str] | None, typer.Option("--alias", help="Another name; repeat.")] = None,
    description: Annotated[str | None, typer.Option(help="What it looks like (matched semantically).")] = None,
    attribution: Annotated[str | None, typer.Option(help="Credit line for allow_with_attribution.")] = None,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register IP for a rights holder with its use policy."""
    with open_lab(home, server) as lab:
        result = lab.rights.register(holder=holder, ip_name=ip_name, policy=policy, aliases=list(alias or []),
                                     description=description, attribution=attribution)
    emit(result, as_json, f"{result['ip_name']} ({result['holder']}): {result['policy']}  [{result['policy_id']}]")


@rights_app.command("list")
@fails_cleanly
def rights_list(as_user: Annotated[str, typer.Option("--as", help="Act as this user.")] = "lab",
                home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Registered IP and its policies."""
    with open_lab(home, server) as lab:
        result = lab.rights.list_ip(as_user=as_user)
    emit(result, as_json, "\n".join(f"{r['policy_id']}  {r['ip_name']} ({r['holder']}): {r['policy']}"
                                    for r in result) or "nothing registered")


@rights_app.command("remove")
@fails_cleanly
def rights_remove(policy_id: Annotated[str, typer.Argument(help="Id from `rights list`.")], home: HomeOpt = None,
                  server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a registration (the shipped registry's default applies again)."""
    with open_lab(home, server) as lab:
        result = lab.rights.remove(policy_id=policy_id)
    emit(result, as_json, f"removed {policy_id}")


@rights_app.command("add-figure")
@fails_cleanly
def rights_add_figure(
    name: Annotated[str, typer.Argument(help="The person's full name.")],
    alias: Annotated[list[str] | None, typer.Option("--alias", help="Another name; repeat.")] = None,
    category: Annotated[str, typer.Option(help="e.g. politician, musician, athlete.")] = "public_figure",
    source: Annotated[str, typer.Option(help="Who they are / where the fact comes from.")] = "",
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a public figure to this lab's registry (refused unless their own cameo is used)."""
    with open_lab(home, server) as lab:
        result = lab.rights.add_public_figure(figure=name, aliases=list(alias or []), category=category, source=source)
    emit(result, as_json, f"public figure added: {result['name']}")


@rights_app.command("add-character")
@fails_cleanly
def rights_add_character(
    name: Annotated[str, typer.Argument(help="The character's name.")],
    alias: Annotated[list[str] | None, typer.Option("--alias", help="Another name; repeat.")] = None,
    holder: Annotated[str, typer.Option(help="Rights holder, if known.")] = "",
    public_domain: Annotated[bool, typer.Option("--public-domain", help="Free to use.")] = False,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a famous character to this lab's registry (blocked unless public domain or opted in)."""
    with open_lab(home, server) as lab:
        result = lab.rights.add_character(character=name, aliases=list(alias or []), rights_holder=holder,
                                          status="public_domain" if public_domain else "protected")
    emit(result, as_json, f"character added: {result['name']} ({result['status']})")


@rights_app.command("link-figure")
@fails_cleanly
def rights_link_figure(
    name: Annotated[str, typer.Argument(help="Registry name, e.g. 'Sam Altman'.")],
    cameo: Annotated[str, typer.Option("--cameo", help="That person's own cameo handle.")],
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark a cameo as a public figure's own, so prompts using it may name them."""
    with open_lab(home, server) as lab:
        result = lab.rights.link_public_figure(figure=name, cameo=cameo)
    emit(result, as_json, f"{result['figure']} -> @{result['cameo']}")
