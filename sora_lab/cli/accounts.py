"""`sora-lab invite | signup | redeem | whoami`: invite-only access, from waitlist to account."""

from __future__ import annotations

from typing import Annotated

import typer

from sora_lab.cli.common import AsOpt, Cli, lab_command

accounts_app = typer.Typer()


@accounts_app.command()
@lab_command
def invite(cli: Cli, as_user: AsOpt) -> None:
    """Mint an invite code (spends one of your invites)."""
    result = cli.lab.accounts.invite(as_user=as_user)
    cli.emit(result, result["code"])


@accounts_app.command()
@lab_command
def signup(
    cli: Cli,
    handle: Annotated[str, typer.Option(help="Your handle, e.g. alice.")],
    region: Annotated[str, typer.Option(help="Two-letter country code.")] = "US",
) -> None:
    """Create an account on the waitlist (no access until you redeem an invite)."""
    result = cli.lab.accounts.signup(handle=handle, region=region)
    cli.emit(result, f"@{result['handle']} is on the waitlist; token saved for --as {result['handle']}")


@accounts_app.command()
@lab_command
def redeem(
    cli: Cli,
    code: Annotated[str, typer.Argument(help="The invite code, e.g. ABCD-2345.")],
    handle: Annotated[str | None, typer.Option(help="Handle for a new account.")] = None,
    region: Annotated[str, typer.Option(help="Two-letter country code of the new account.")] = "US",
    as_user: Annotated[str | None, typer.Option("--as", help="Redeem for an account already signed up.")] = None,
) -> None:
    """Redeem an invite code: creates the account (or unlocks a waitlisted one) and saves its token."""
    if (handle is None) == (as_user is None):
        raise typer.BadParameter("give either --handle (new account) or --as (waitlisted account)")
    if as_user:
        result = cli.lab.accounts.redeem(code=code, as_user=as_user)
    else:
        result = cli.lab.accounts.redeem(code=code, handle=handle, region=region)
    cli.emit(result, f"@{result['handle']} has access; {result['invites_left']} invites to give")


@accounts_app.command()
@lab_command
def whoami(cli: Cli, as_user: AsOpt) -> None:
    """Show an account: access, region, invites left."""
    result = cli.lab.accounts.whoami(as_user=as_user)
    access = "has access" if result["has_access"] else "waitlisted"
    cli.emit(result, f"@{result['handle']} ({result['region']}): {access}, {result['invites_left']} invites left")
