"""The `sora-lab` app: every command group, assembled in the order `--help` lists them.

Every command has --json and, on failure, prints one line (`error: …`) to stderr and exits 1
(`sora_lab.cli.common`). Unnamed groups add their commands at the top level.
"""

from __future__ import annotations

import os
import sys
import threading

import typer

from sora_lab.cli.accounts import accounts_app
from sora_lab.cli.cameo import cameo_app
from sora_lab.cli.feed import feed_app
from sora_lab.cli.jobs import jobs_app
from sora_lab.cli.lab import lab_app
from sora_lab.cli.metrics import metrics_app
from sora_lab.cli.model import model_app
from sora_lab.cli.policy import policy_app
from sora_lab.cli.rights import rights_app
from sora_lab.cli.settings import settings_app
from sora_lab.cli.videos import videos_app
from sora_lab.cli.workshop import signin_app, workshop_app

app = typer.Typer(
    help="Sora Lab: generation, consent, provenance, feed and growth metrics — offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(lab_app)  # init, serve, seed-demo, status
app.add_typer(accounts_app)  # invite, signup, redeem, whoami
app.add_typer(signin_app)  # login-link
app.add_typer(videos_app)  # generate, remix, publish, unpublish, delete, verify, trace, videos
app.add_typer(jobs_app)  # jobs, sweep
app.add_typer(model_app, name="model")
app.add_typer(cameo_app, name="cameo")
app.add_typer(policy_app, name="policy")
app.add_typer(rights_app, name="rights")
app.add_typer(feed_app, name="feed")
app.add_typer(metrics_app, name="metrics")
app.add_typer(settings_app, name="settings")
app.add_typer(workshop_app, name="workshop")


def main() -> None:
    """The `sora-lab` script: `app`, then, once a command that loaded torch has finished, a quick exit.

    Why: Python's own teardown of torch's modules takes about 0.5 s, an eighth of the 4 s a cold
    `sora-lab generate` may take (issue 36). By then the command's lab is closed (`Cli.close`) and its
    output written; the quick exit flushes stdout and stderr and skips only the module teardown. It is not
    taken while anything might still need an orderly end: Ray (its atexit stops the cluster it started),
    child processes of multiprocessing, or a thread that is not a daemon.
    """
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    if not isinstance(code, int) or not _only_teardown_left():
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _only_teardown_left() -> bool:
    if "torch" not in sys.modules or "ray" in sys.modules:
        return False
    if "multiprocessing" in sys.modules and sys.modules["multiprocessing"].active_children():
        return False
    return all(t.daemon or t is threading.main_thread() for t in threading.enumerate())


if __name__ == "__main__":
    main()
