"""`sora-lab login-link | workshop open | workshop status | workshop close`: signing people in to the feed."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Annotated

import typer

from sora_lab.accounts.signin import LOGIN_CODE_MINUTES
from sora_lab.admin.sheet import feed_url
from sora_lab.cli.common import AsOpt, Cli, lab_command

signin_app = typer.Typer()
workshop_app = typer.Typer(help="Workshop mode: one invite code per seat, a printable sheet, the class live.")


def lan_address() -> str:
    """This machine's address on its network (the interface a default route would use); no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def check_host(host: str) -> str:
    """An IP address to serve on; anything but loopback is said out loud on stderr."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise typer.BadParameter(f"--host {host!r} is not an IP address; use 127.0.0.1 (this machine only), this "
                                 f"machine's network address (e.g. {lan_address()}) or, explicitly, 0.0.0.0") from None
    if not address.is_loopback:
        print(f"WARNING: the feed will be served on {host}: anyone who can reach this machine on that network can "
              "open it and redeem an unused seat code. Close the workshop (sora-lab workshop close) when the class "
              "ends.", file=sys.stderr)
    return host


@signin_app.command("login-link")
@lab_command
def login_link(
    cli: Cli,
    as_user: AsOpt,
    handle: Annotated[str | None, typer.Option("--for", help="Whom it signs in (the operator only).")] = None,
    minutes: Annotated[int, typer.Option(help="How long the link stays good.")] = LOGIN_CODE_MINUTES,
    host: Annotated[str, typer.Option(help="Host in the printed link.")] = "127.0.0.1",
) -> None:
    """Mint a one-time login link for the feed (single use, short-lived)."""
    result = cli.lab.signin.login_link(as_user=as_user, handle=handle, minutes=minutes)
    result["url"] = f"{feed_url(host)}login?code={result['code']}"
    cli.emit(result, f"{result['url']}\n(@{result['handle']}, one use, until {result['expires_at']})")


@workshop_app.command("open")
@lab_command
def open_workshop(
    cli: Cli,
    seats: Annotated[int, typer.Option(help="Participants: one invite code each.")],
    host: Annotated[str, typer.Option(help="Address the class reaches the feed at; 0.0.0.0 only when you mean it.")]
    = "127.0.0.1",
) -> None:
    """Mint one invite code per seat, write the sign-in sheet (HTML and PDF, a QR code per seat), print the URLs."""
    from sora_lab.admin.sheet import redeem_url, write_sheet

    host = check_host(host)
    shown = lan_address() if host == "0.0.0.0" else host
    result = cli.lab.workshop.open(seats=seats)
    url = feed_url(shown)
    result |= {"feed_url": url, "sheet": write_sheet(cli.lab.home / "workshops" / result["workshop_id"], url,
                                                     result["seats"])}
    serve = "" if host == "127.0.0.1" else f"SORA_LAB_HOST={host} "
    lines = [f"workshop {result['workshop_id']}: {seats} seats", f"read out:   {url}  (then: redeem your code)",
             f"print:      {result['sheet']['pdf']}", f"            {result['sheet']['html']}",
             f"serve it:   {serve}make demo", "class view: http://127.0.0.1:"
             f"{os.environ.get('SORA_LAB_PANEL_PORT', '5006')}/workshop (operator sign-in)", "close:      "
             "sora-lab workshop close", ""] + [f"  seat {s['seat']:>3}  {s['code']}  {redeem_url(url, s['code'])}"
                                             for s in result["seats"]]
    cli.emit(result, "\n".join(lines))


@workshop_app.command("status")
@lab_command
def status(cli: Cli) -> None:
    """The class live: seats redeemed, clips, remixes and likes per participant."""
    view = cli.lab.workshop.status()
    lines = [f"workshop {view['workshop_id']}: {view['seats_redeemed']}/{view['seats_total']} seats redeemed, "
             f"{view['clips']} clips, {view['remixes']} remixes, {view['likes']} likes"]
    lines += [f"  seat {s['seat']:>3}  @{s['handle'] or '-':<16} clips {s['clips']}  remixes {s['remixes']}  "
              f"likes given {s['likes_given']}  received {s['likes_received']}" for s in view["seats"]]
    cli.emit(view, "\n".join(lines))


@workshop_app.command("reseat")
@lab_command
def reseat(cli: Cli, seat: Annotated[int, typer.Argument(help="The seat number on the sheet.")]) -> None:
    """A new code for one unused seat (a lost or shared card); the old code stops working."""
    from sora_lab.admin.sheet import redeem_url

    result = cli.lab.workshop.reseat(seat=seat)
    cli.emit(result, f"seat {result['seat']}: new code {result['code']}  {redeem_url(feed_url(), result['code'])}")


@workshop_app.command("close")
@lab_command
def close(cli: Cli) -> None:
    """Revoke the open workshop's unused codes."""
    result = cli.lab.workshop.close()
    cli.emit(result, f"workshop {result['workshop_id']} closed: {result['revoked']} unused codes revoked, "
                     f"{result['redeemed']} seats taken")
