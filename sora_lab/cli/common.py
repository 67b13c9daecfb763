"""What every `sora-lab` command group shares: options, output, one-line errors, opening a lab.

Its own module so command groups in other modules can import it without importing
`sora_lab.cli.main` back (which is circular when the CLI runs as `python -m sora_lab.cli`).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from sora_lab.core.errors import LabError

HomeOpt = Annotated[Path | None, typer.Option("--home", help="Lab home folder (default $SORA_LAB_HOME or data/lab).")]
ServerOpt = Annotated[str | None, typer.Option("--server", help="URL of a running lab server (default: auto).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
AsOpt = Annotated[str, typer.Option("--as", help="Act as this user (handle).")]


def emit(result, as_json: bool, human: str | None = None) -> None:
    """One JSON object with --json; otherwise the human line (or indented JSON when there is none)."""
    if as_json:
        print(json.dumps(result, default=str))
    else:
        print(human if human is not None else json.dumps(result, indent=2, default=str))


def fails_cleanly(fn):
    """Lab errors become one `error: …` line on stderr and exit code 1 (plus a JSON error with --json)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (LabError, FileNotFoundError) as exc:
            if kwargs.get("as_json"):
                error = {"code": getattr(exc, "code", "not_found"), "message": str(exc)}
                if getattr(exc, "reasons", None):
                    error["reasons"] = exc.reasons
                print(json.dumps({"error": error}))
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None

    return wrapper


def open_lab(home: Path | None, server: str | None):
    """The server given, else the running server for this home, else the lab embedded."""
    from sora_lab.lab import Lab

    return Lab.connect(server, home=home) if server else Lab.auto(home)
