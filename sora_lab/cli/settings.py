"""`sora-lab settings [get [KEY] | set KEY VALUE]`: the operator's lab-wide settings from the shell.

Runs as the operator: embedded, the process owning the lab file is the operator; against a server,
the admin token that `sora-lab init` saved in the home's credentials is used.
"""

from __future__ import annotations

from typing import Annotated

import typer

from sora_lab.cli.common import Cli, lab_command
from sora_lab.core.errors import InputError
from sora_lab.core.settings import parse_setting

settings_app = typer.Typer(help="Read and change lab-wide settings (operator).", no_args_is_help=True)


@settings_app.command("get")
@lab_command
def get(cli: Cli, key: Annotated[str | None, typer.Argument(help="One setting; all of them when left out.")] = None,
        ) -> None:
    """Print one setting, or all of them."""
    current = cli.lab.admin.settings()
    if key is None:
        cli.emit(current, "\n".join(f"{k} = {_show(v)}" for k, v in sorted(current.items())))
        return
    if key not in current:
        raise InputError(f"unknown setting {key!r}; known: {', '.join(sorted(current))}")
    cli.emit({key: current[key]}, _show(current[key]))


@settings_app.command("set")
@lab_command
def set_(
    cli: Cli,
    key: Annotated[str, typer.Argument(help="The setting, e.g. cameo_liveness_required.")],
    value: Annotated[str, typer.Argument(help="true/false, a number, or a comma-separated list (US,CA).")],
) -> None:
    """Change one setting; prints its new value."""
    updated = cli.lab.admin.update_settings(changes={key: parse_setting(key, value)})
    cli.emit({key: updated[key]}, f"{key} = {_show(updated[key])}")


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value) or "(empty)"
    return str(value)
