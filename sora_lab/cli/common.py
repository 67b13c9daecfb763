"""What every `sora-lab` command shares: --home, --server and --json, printing the result, one-line errors.

A command takes a `Cli` as its first parameter and is wrapped by `lab_command`, `home_command` or
`json_command`, which add the shared options to its signature (after its own, where users type them:
`sora-lab whoami --as sam --home X --json`). Its own module, so that each group module imports it
without importing `sora_lab.cli.main`, which imports them.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from sora_lab.core.errors import LabError

if TYPE_CHECKING:
    from sora_lab.lab import Lab

AsOpt = Annotated[str, typer.Option("--as", help="Act as this user (handle).")]


def _shared(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


HOME = _shared("home", Annotated[
    Path | None, typer.Option("--home", help="Lab home folder (default $SORA_LAB_HOME or data/lab).")], None)
SERVER = _shared("server", Annotated[
    str | None, typer.Option("--server", help="URL of a running lab server (default: auto).")], None)
JSON = _shared("as_json", Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")], False)


@dataclass
class Cli:
    """One command's shared options and what it does with them: open the lab, print, fail."""

    home: Path | None = None
    server: str | None = None
    as_json: bool = False
    _lab: Lab | None = field(default=None, init=False, repr=False)

    @property
    def lab(self) -> Lab:
        """The --server given, else the server running for --home, else the lab embedded.
        Opened on first use; the command's decorator closes it when the command ends."""
        if self._lab is None:
            from sora_lab.lab import Lab

            self._lab = Lab.connect(self.server, home=self.home) if self.server else Lab.auto(self.home)
        return self._lab

    def emit(self, result: Any, human: str | None = None) -> None:
        """One JSON object with --json; otherwise the human line (or indented JSON when there is none)."""
        if self.as_json:
            print(json.dumps(result, default=str))
        else:
            print(human if human is not None else json.dumps(result, indent=2, default=str))

    def fail(self, exc: Exception) -> NoReturn:
        """One `error: …` line on stderr (plus a JSON error object on stdout with --json), exit code 1."""
        if self.as_json:
            error = {"code": getattr(exc, "code", "not_found"), "message": str(exc)}
            if getattr(exc, "reasons", None):
                error["reasons"] = exc.reasons
            print(json.dumps({"error": error}))
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None

    def close(self) -> None:
        if self._lab is not None:
            self._lab.close()


def _with_options(*shared: inspect.Parameter) -> Callable[[Callable], Callable]:
    """Decorator: the command gets these options after its own and a `Cli` built from them in front;
    lab errors (and missing files) end it with `Cli.fail`."""

    def decorate(command: Callable) -> Callable:
        own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]  # all but the Cli
        signature = inspect.Signature([*own, *shared])

        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            cli = Cli(**{option.name: kwargs.pop(option.name) for option in shared})
            try:
                return command(cli, **kwargs)
            except (LabError, FileNotFoundError) as exc:
                cli.fail(exc)
            finally:
                cli.close()

        # typer reads these, not the command's own: resolved types, the Cli gone, the shared options added
        run.__signature__ = signature
        run.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        return run

    return decorate


lab_command = _with_options(HOME, SERVER, JSON)  # commands on a lab, embedded or served
home_command = _with_options(HOME, JSON)  # commands on a home's files that no server may own (init, serve)
json_command = _with_options(JSON)  # commands that need no lab (verify, the tiny model's)
