"""`sora-lab …` commands. Each has --json, and on failure prints one line
(`error: …`) to stderr and exits non-zero."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from sora_lab.accounts.service import ADMIN_HANDLE
from sora_lab.cli.common import AsOpt, HomeOpt, JsonOpt, ServerOpt, emit, fails_cleanly, open_lab
from sora_lab.client import running_server_url
from sora_lab.core.errors import ServerBusy
from sora_lab.core.home import resolve_home

app = typer.Typer(
    help="Sora Lab: generation, consent, provenance, feed and growth metrics — offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

@app.command()
@fails_cleanly
def init(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Create a lab home: database, operator account (@lab) and signing keys. Safe to re-run."""
    from sora_lab.admin.bootstrap import initialise
    from sora_lab.services import Services

    home_path = resolve_home(home)
    served_at = running_server_url(home_path)
    if served_at:
        emit(
            {"home": str(home_path), "created": False, "server": served_at},
            as_json,
            f"lab at {home_path} is already initialised and served at {served_at}",
        )
        return
    services = Services.open(home_path)
    try:
        created = initialise(services.store, services.home, services.accounts)
    finally:
        services.close()
    result = {"home": str(home_path), "created": created, "admin": ADMIN_HANDLE}
    emit(result, as_json, f"lab ready at {home_path} ({'created' if created else 'already there'})")


@app.command()
@fails_cleanly
def serve(
    home: HomeOpt = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    warm: Annotated[bool, typer.Option(
        "--warm/--no-warm", help="Load the text model at start, so the first feed page does not wait for it.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Run the lab server (owns the DuckDB file and media) in the foreground."""
    from sora_lab.api.server import serve as run_server

    home_path = resolve_home(home)
    if running_server_url(home_path):
        raise ServerBusy(f"a server for {home_path} already runs at {running_server_url(home_path)}")
    if as_json:
        print(json.dumps({"url": f"http://{host}:{port}", "home": str(home_path)}), flush=True)
    else:
        console.print(f"serving {home_path} at http://{host}:{port}")
    run_server(home_path, host=host, port=port, warm=warm)


@app.command("seed-demo")
@fails_cleanly
def seed_demo(home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Fill an empty lab with demo users, follows and clips (does nothing if already seeded)."""
    with open_lab(home, server) as lab:
        result = lab.admin.seed_demo()
    emit(result, as_json, f"demo: {result}")


@app.command()
@fails_cleanly
def invite(as_user: AsOpt, home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Mint an invite code (spends one of your invites)."""
    with open_lab(home, server) as lab:
        result = lab.accounts.invite(as_user=as_user)
    emit(result, as_json, result["code"])


@app.command()
@fails_cleanly
def signup(
    handle: Annotated[str, typer.Option(help="Your handle, e.g. alice.")],
    region: Annotated[str, typer.Option(help="Two-letter country code.")] = "US",
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an account on the waitlist (no access until you redeem an invite)."""
    with open_lab(home, server) as lab:
        result = lab.accounts.signup(handle=handle, region=region)
    emit(result, as_json, f"@{result['handle']} is on the waitlist; token saved for --as {result['handle']}")


@app.command()
@fails_cleanly
def redeem(
    code: Annotated[str, typer.Argument(help="The invite code, e.g. ABCD-2345.")],
    handle: Annotated[str | None, typer.Option(help="Handle for a new account.")] = None,
    region: Annotated[str, typer.Option(help="Two-letter country code of the new account.")] = "US",
    as_user: Annotated[str | None, typer.Option("--as", help="Redeem for an account already signed up.")] = None,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Redeem an invite code: creates the account (or unlocks a waitlisted one) and saves its token."""
    if (handle is None) == (as_user is None):
        raise typer.BadParameter("give either --handle (new account) or --as (waitlisted account)")
    with open_lab(home, server) as lab:
        if as_user:
            result = lab.accounts.redeem(code=code, as_user=as_user)
        else:
            result = lab.accounts.redeem(code=code, handle=handle, region=region)
    emit(result, as_json, f"@{result['handle']} has access; {result['invites_left']} invites to give")


@app.command()
@fails_cleanly
def whoami(as_user: AsOpt, home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Show an account: access, region, invites left."""
    with open_lab(home, server) as lab:
        result = lab.accounts.whoami(as_user=as_user)
    access = "has access" if result["has_access"] else "waitlisted"
    emit(result, as_json, f"@{result['handle']} ({result['region']}): {access}, {result['invites_left']} invites left")


@app.command()
@fails_cleanly
def status(home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Where the lab is, whether a server owns it, and row counts."""
    with open_lab(home, server) as lab:
        result = lab.health() | lab.admin.stats()
    emit(result, as_json)


# --- command groups registered by area (each lives beside its area's code) ---
# --- videos (generation pipeline) ---
from sora_lab.cli.videos import register as _register_video_commands  # noqa: E402

_register_video_commands(app)
# --- tiny model ---
from sora_lab.cli.model import model_app  # noqa: E402

app.add_typer(model_app, name="model")
# --- cameos and policy ---
from sora_lab.cli.consent import cameo_app, policy_app, rights_app  # noqa: E402

app.add_typer(cameo_app, name="cameo")
app.add_typer(policy_app, name="policy")
app.add_typer(rights_app, name="rights")
# --- feed ---
from sora_lab.cli.feed import feed_app  # noqa: E402

app.add_typer(feed_app, name="feed")
# --- metrics ---
from sora_lab.cli.metrics import metrics_app  # noqa: E402

app.add_typer(metrics_app, name="metrics")


if __name__ == "__main__":
    app()
