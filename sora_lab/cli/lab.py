"""`sora-lab init | serve | seed-demo | status`: create, serve, fill and inspect a lab home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sora_lab.accounts.service import ADMIN_HANDLE
from sora_lab.cli.common import Cli, home_command, lab_command
from sora_lab.client import running_server_url
from sora_lab.core.errors import ServerBusy
from sora_lab.core.home import resolve_home

lab_app = typer.Typer()
console = Console(stderr=True)


@lab_app.command()
@home_command
def init(cli: Cli) -> None:
    """Create a lab home: database, operator account (@lab) and signing keys. Safe to re-run."""
    from sora_lab.admin.bootstrap import initialise
    from sora_lab.services import Services

    home_path = resolve_home(cli.home)
    served_at = running_server_url(home_path)
    if served_at:
        result = {"home": str(home_path), "created": False, "server": served_at}
        cli.emit(result, f"lab at {home_path} is already initialised and served at {served_at}")
        return
    services = Services.open(home_path)
    try:
        created = initialise(services.store, services.home, services.accounts)
    finally:
        services.close()
    result = {"home": str(home_path), "created": created, "admin": ADMIN_HANDLE}
    cli.emit(result, f"lab ready at {home_path} ({'created' if created else 'already there'})")


@lab_app.command()
@home_command
def serve(
    cli: Cli,
    host: Annotated[
        str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    warm: Annotated[bool, typer.Option(
        "--warm/--no-warm", help="Load the text model at start, so the first feed page does not wait for it.")] = True,
    ray: Annotated[str | None, typer.Option(
        "--ray", help="Render on Ray actors: auto (the running cluster, else a local one), local, or an address.")
    ] = None,
    ray_shared: Annotated[Path | None, typer.Option(
        "--ray-shared", help="A folder every Ray node sees at this path: clips travel through it, not Ray.")] = None,
) -> None:
    """Run the lab server (owns the DuckDB file and media) in the foreground."""
    from sora_lab.api.server import serve as run_server

    home_path = resolve_home(cli.home)
    if running_server_url(home_path):
        raise ServerBusy(f"a server for {home_path} already runs at {running_server_url(home_path)}")
    if cli.as_json:
        print(json.dumps({"url": f"http://{host}:{port}", "home": str(home_path)}), flush=True)
    else:
        console.print(f"serving {home_path} at http://{host}:{port}")
    run_server(home_path, host=host, port=port, warm=warm, ray=ray, ray_shared=ray_shared)


@lab_app.command("seed-demo")
@lab_command
def seed_demo(cli: Cli) -> None:
    """Fill an empty lab with demo users, follows and clips (does nothing if already seeded)."""
    result = cli.lab.admin.seed_demo()
    cli.emit(result, f"demo: {result}")


@lab_app.command()
@lab_command
def status(cli: Cli) -> None:
    """Where the lab is, whether a server owns it, and row counts."""
    cli.emit(cli.lab.health() | cli.lab.admin.stats())
