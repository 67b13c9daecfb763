"""`sora-lab policy check`: would a prompt be generated? A refusal is an answer (exit 0), not an error."""

from __future__ import annotations

from typing import Annotated

import typer

from sora_lab.cli.common import AsOpt, Cli, lab_command

policy_app = typer.Typer(help="The prompt policy: check a prompt before generating.", no_args_is_help=True)


@policy_app.command("check")
@lab_command
def policy_check(
    cli: Cli,
    prompt: Annotated[str, typer.Argument(help="The prompt to check.")],
    as_user: AsOpt,
    cameo: Annotated[list[str] | None, typer.Option("--cameo", help="A cameo handle to use; repeat.")] = None,
) -> None:
    """Would this prompt be generated for this user? Prints the decision and every reason."""
    result = cli.lab.policy.check(as_user=as_user, prompt=prompt, cameos=list(cameo or []))
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
    cli.emit(result, human)
