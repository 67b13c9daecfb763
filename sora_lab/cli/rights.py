"""`sora-lab rights …`: the operator's registries of rights holders' IP, public figures and characters."""

from __future__ import annotations

from typing import Annotated

import typer

from sora_lab.cli.common import Cli, lab_command

rights_app = typer.Typer(help="Rights holders and the public-figure / character registries (operator).",
                         no_args_is_help=True)

AliasOpt = Annotated[list[str] | None, typer.Option("--alias", help="Another name; repeat.")]


@rights_app.command("register")
@lab_command
def rights_register(
    cli: Cli,
    holder: Annotated[str, typer.Argument(help="Rights holder, e.g. 'Example Studios'.")],
    ip_name: Annotated[str, typer.Argument(help="The character or work, e.g. 'Captain Comet'.")],
    policy: Annotated[str, typer.Option(help="block | allow | allow_with_attribution")],
    alias: AliasOpt = None,
    description: Annotated[str | None, typer.Option(help="What it looks like (matched semantically).")] = None,
    attribution: Annotated[str | None, typer.Option(help="Credit line for allow_with_attribution.")] = None,
) -> None:
    """Register IP for a rights holder with its use policy."""
    result = cli.lab.rights.register(holder=holder, ip_name=ip_name, policy=policy, aliases=list(alias or []),
                                     description=description, attribution=attribution)
    cli.emit(result, f"{result['ip_name']} ({result['holder']}): {result['policy']}  [{result['policy_id']}]")


@rights_app.command("list")
@lab_command
def rights_list(cli: Cli, as_user: Annotated[str, typer.Option("--as", help="Act as this user.")] = "lab") -> None:
    """Registered IP and its policies."""
    result = cli.lab.rights.list_ip(as_user=as_user)
    cli.emit(result, "\n".join(f"{r['policy_id']}  {r['ip_name']} ({r['holder']}): {r['policy']}"
                               for r in result) or "nothing registered")


@rights_app.command("remove")
@lab_command
def rights_remove(cli: Cli, policy_id: Annotated[str, typer.Argument(help="Id from `rights list`.")]) -> None:
    """Remove a registration (the shipped registry's default applies again)."""
    result = cli.lab.rights.remove(policy_id=policy_id)
    cli.emit(result, f"removed {policy_id}")


@rights_app.command("add-figure")
@lab_command
def rights_add_figure(
    cli: Cli,
    name: Annotated[str, typer.Argument(help="The person's full name.")],
    alias: AliasOpt = None,
    category: Annotated[str, typer.Option(help="e.g. politician, musician, athlete.")] = "public_figure",
    source: Annotated[str, typer.Option(help="Who they are / where the fact comes from.")] = "",
) -> None:
    """Add a public figure to this lab's registry (refused unless their own cameo is used)."""
    result = cli.lab.rights.add_public_figure(figure=name, aliases=list(alias or []), category=category, source=source)
    cli.emit(result, f"public figure added: {result['name']}")


@rights_app.command("add-character")
@lab_command
def rights_add_character(
    cli: Cli,
    name: Annotated[str, typer.Argument(help="The character's name.")],
    alias: AliasOpt = None,
    holder: Annotated[str, typer.Option(help="Rights holder, if known.")] = "",
    public_domain: Annotated[bool, typer.Option("--public-domain", help="Free to use.")] = False,
) -> None:
    """Add a famous character to this lab's registry (blocked unless public domain or opted in)."""
    result = cli.lab.rights.add_character(character=name, aliases=list(alias or []), rights_holder=holder,
                                          status="public_domain" if public_domain else "protected")
    cli.emit(result, f"character added: {result['name']} ({result['status']})")


@rights_app.command("link-figure")
@lab_command
def rights_link_figure(
    cli: Cli,
    name: Annotated[str, typer.Argument(help="Registry name, e.g. 'Sam Altman'.")],
    cameo: Annotated[str, typer.Option("--cameo", help="That person's own cameo handle.")],
) -> None:
    """Mark a cameo as a public figure's own, so prompts using it may name them."""
    result = cli.lab.rights.link_public_figure(figure=name, cameo=cameo)
    cli.emit(result, f"{result['figure']} -> @{result['cameo']}")
