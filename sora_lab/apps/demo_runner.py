"""`make demo`: initialise a lab home, seed it, start the server and the apps, print their URLs.

Re-running is safe: a home that is already seeded is not seeded again, and processes that
already answer are left running. The seeding happens embedded (this process owns the
DuckDB file) *before* the server starts, because afterwards only the server may open it.
`make stop` (``--stop``) ends what this started.

Ports come from SORA_LAB_PORT (8765), SORA_LAB_VOILA_PORT (8866), SORA_LAB_PANEL_PORT (5006).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from sora_lab.admin.demo import DEMO_PEOPLE, seed_demo_world
from sora_lab.apps.feed_auth import SESSION_HEADER
from sora_lab.client import running_server_url
from sora_lab.core.home import load_credentials, read_json, resolve_home, write_json_atomic
from sora_lab.lab import Lab
from sora_lab.services import Services

REPO = Path(__file__).resolve().parents[2]
CULL_IDLE_S = 30
CULL_EVERY_S = 10
BIN = Path(sys.executable).parent


@dataclass
class App:
    """One long-running process of the demo: how to start it and where it answers."""

    name: str
    port: int
    command: list[str]
    ready_path: str
    public_path: str

    @property
    def url(self) -> str:
        return f"http://{reach_host()}:{self.port}{self.public_path}"


def voila_args(port: int, ip: str = "127.0.0.1") -> list[str]:
    """Voilà flags for the feed app (the browser tests use the same ones).

    Pre-heated kernels: Voilà keeps two kernels that have already run the notebook up to
    `wait_for_request()`, so a viewer's page only runs the last cell instead of starting a
    kernel (seconds) first. Sign-in: sora_lab.apps.feed_auth is Voilà's identity provider, the
    viewer's session token reaches the kernel in one header, and only that viewer may reach the kernel.
    Culling: a kernel with no page connected and idle for CULL_IDLE_S is shut down (checked every
    CULL_EVERY_S), so closed pages free their memory.
    Offline: the page template is "offline" (see `voila_env`), Voilà's lab page without its CDN stylesheets.
    """
    return [str(REPO / "dashboards" / "feed.ipynb"), "--no-browser", f"--port={port}", f"--Voila.ip={ip}",
            "--VoilaConfiguration.template=offline",
            "--VoilaConfiguration.show_tracebacks=False", "--VoilaConfiguration.preheat_kernel=True",
            "--VoilaConfiguration.default_pool_size=2",
            "--Voila.identity_provider_class=sora_lab.apps.feed_auth.LabIdentityProvider",
            "--Voila.authorizer_class=sora_lab.apps.feed_auth.KernelOwnerAuthorizer",
            f"--VoilaConfiguration.http_header_envs={SESSION_HEADER}",
            f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
            f"--MappingKernelManager.cull_interval={CULL_EVERY_S}",
            "--MappingKernelManager.cull_connected=False"]


def voila_env() -> dict:
    """Where Voilà finds the feed's page template (sora_lab/apps/jupyter/voila/templates/offline): one more
    Jupyter data folder, before the usual ones."""
    extra = [str(Path(__file__).parent / "jupyter"), os.environ.get("JUPYTER_PATH", "")]
    return {"JUPYTER_PATH": os.pathsep.join(p for p in extra if p)}


def panel_args(port: int, ip: str = "127.0.0.1") -> list[str]:
    """`panel serve` flags for the growth dashboard and the workshop class view, behind the operator sign-in
    (sora_lab/apps/growth_auth.py; Panel needs PANEL_COOKIE_SECRET in its environment, see `panel_env`)."""
    hosts = {"127.0.0.1": ["127.0.0.1", "localhost"], "0.0.0.0": ["*"]}.get(ip, [ip])
    return ["serve", str(REPO / "dashboards" / "growth.py"), str(REPO / "dashboards" / "workshop.py"),
            "--port", str(port), "--address", ip, "--auth-module", str(REPO / "sora_lab" / "apps" / "growth_auth.py"),
            *[f"--allow-websocket-origin={h}:{port}" if h != "*" else "--allow-websocket-origin=*" for h in hosts]]


def panel_env(home: Path) -> dict:
    """Panel's cookie secret, made once per lab home and kept beside it (0600): sign-ins survive restarts."""
    path = home / "run" / "panel_cookie_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return {"PANEL_COOKIE_SECRET": path.read_text().strip()}


def bind_host() -> str:
    """SORA_LAB_HOST: the address the demo's apps bind (127.0.0.1 unless the operator sets another, e.g. for a
    workshop on a local network)."""
    return os.environ.get("SORA_LAB_HOST", "127.0.0.1").strip() or "127.0.0.1"


def reach_host() -> str:
    """Where this machine reaches the apps: the bound address, or loopback when bound to every interface."""
    host = bind_host()
    return "127.0.0.1" if host == "0.0.0.0" else host


def _apps(home: Path) -> list[App]:
    server_port = int(os.environ.get("SORA_LAB_PORT", "8765"))
    voila_port = int(os.environ.get("SORA_LAB_VOILA_PORT", "8866"))
    panel_port = int(os.environ.get("SORA_LAB_PANEL_PORT", "5006"))
    apps = [
        App(
            "server",
            server_port,
            [str(BIN / "sora-lab"), "serve", "--home", str(home), "--port", str(server_port), "--host", bind_host()],
            "/health",
            "/docs",
        )
    ]
    if (REPO / "dashboards" / "feed.ipynb").exists():
        apps.append(
            App(
                "feed",
                voila_port,
                [str(BIN / "voila"), *voila_args(voila_port, bind_host())],
                "/api/kernelspecs",  # not "/": every page request takes a pre-heated kernel
                "/",
            )
        )
    if (REPO / "dashboards" / "growth.py").exists():
        command = [str(BIN / "panel"), *panel_args(panel_port, bind_host())]
        apps.append(App("growth", panel_port, command, "/login", "/growth"))
    return apps


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code < 500
    except httpx.HTTPError:
        return False


def docs_render(base_url: str) -> str | None:
    """None when the API docs page can render here, else why not: /docs answers, every script and
    stylesheet it loads comes from the server itself (no CDN: the machine may be offline) and
    answers, and /openapi.json lists the API's operations."""
    try:
        page = httpx.get(f"{base_url}/docs", timeout=10)
        if page.status_code != 200:
            return f"/docs answered HTTP {page.status_code}"
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page.text)
        if not assets:
            return "/docs loads no script"
        for asset in assets:
            if "://" in asset:
                return f"/docs loads {asset} from outside the server"
            if httpx.get(f"{base_url}{asset}", timeout=10).status_code != 200:
                return f"/docs cannot load {asset}"
        paths = httpx.get(f"{base_url}/openapi.json", timeout=10).json().get("paths", {})
        if not any(p.startswith("/api/v1/") for p in paths):
            return "/openapi.json lists no /api/v1 operation"
    except (httpx.HTTPError, ValueError) as exc:
        return f"/docs did not answer ({exc})"
    return None


def _pid_file(home: Path) -> Path:
    return home / "run" / "demo.json"


def seed(home: Path) -> dict:
    """Initialise and seed the lab embedded; returns what was done."""
    services = Services.open(home)
    try:
        return seed_demo_world(services, progress=lambda msg: print(f"  {msg}", flush=True))
    finally:
        services.close()


def start(home: Path) -> list[App]:
    """Start every app that does not answer yet; wait until all answer."""
    pids = read_json(_pid_file(home))
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"SORA_LAB_HOME": str(home), "PYTHONUNBUFFERED": "1"} | panel_env(home) | voila_env()
    apps = _apps(home)
    for app in apps:
        if _answers(f"http://{reach_host()}:{app.port}{app.ready_path}"):
            continue
        with open(logs / f"{app.name}.log", "ab") as log:
            proc = subprocess.Popen(
                app.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=REPO, env=env, start_new_session=True,
            )
        pids[app.name] = proc.pid
        write_json_atomic(_pid_file(home), pids)
        if app.name == "server":  # the apps connect to the server: wait for it first
            _wait(app, logs)
    for app in apps:
        _wait(app, logs)
    return apps


def _wait(app: App, logs: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(f"http://{reach_host()}:{app.port}{app.ready_path}"):
            return
        time.sleep(0.5)
    raise SystemExit(f"error: {app.name} did not answer on port {app.port} within {timeout:.0f}s; "
                     f"see {logs / (app.name + '.log')}")


def stop(home: Path) -> list[str]:
    """Stop the processes recorded by `start` (their whole process groups)."""
    stopped = []
    for name, pid in read_json(_pid_file(home)).items():
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped.append(name)
        except (ProcessLookupError, PermissionError):
            pass
    _pid_file(home).unlink(missing_ok=True)
    return stopped


def login_links(home: Path, apps: list[App]) -> dict[str, str]:
    """A fresh one-time feed login link for each demo member, minted with that member's own token (this process
    is the operator on its own machine; the feed's kernels never see these tokens)."""
    feed = next((app for app in apps if app.name == "feed"), None)
    if feed is None:
        return {}
    links = {}
    with Lab.connect(apps[0].url.removesuffix("/docs"), home=home) as lab:
        for handle, _region, _inviter in DEMO_PEOPLE:
            code = lab.signin.login_link(as_user=handle)["code"]
            links[handle] = f"{feed.url}login?code={code}"
    return links


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=None, help="lab home (default $SORA_LAB_HOME or data/lab)")
    parser.add_argument("--stop", action="store_true", help="stop the demo processes")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    home = resolve_home(args.home)
    if args.stop:
        stopped = stop(home)
        print(json.dumps({"stopped": stopped}) if args.json else f"stopped: {', '.join(stopped) or 'nothing'}")
        return 0
    t0 = time.monotonic()
    if bind_host() != "127.0.0.1":
        print(f"WARNING: SORA_LAB_HOST={bind_host()}: the lab server, the feed and the dashboard answer beyond this "
              "machine; anyone on that network can reach their sign-in pages.", file=sys.stderr)
    if running_server_url(home):
        print(f"lab server already running for {home}; not re-seeding")
        seeded = {"seeded": False}
    else:
        print(f"lab home: {home}")
        seeded = seed(home)
    apps = start(home)
    token = load_credentials(home).get("maya")
    links = login_links(home, apps)
    server = apps[0].url.removesuffix("/docs")
    docs_problem = docs_render(server)
    urls = {app.name: app.url for app in apps}
    if docs_problem:  # a URL is printed only for a page that renders
        urls["server"] = server
    result = {
        "home": str(home),
        "seeded": seeded,
        "urls": urls,
        "docs": docs_problem or "ok",
        "demo_user": "maya",
        "token": token,
        "login_links": links,
        "seconds": round(time.monotonic() - t0, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print("\nSora Lab demo is up:")
        for name, url in urls.items():
            print(f"  {name:<7} {url}")
        if docs_problem:
            print(f"  (API docs not shown: {docs_problem})")
        print("\n  the feed opens signed out; one-time login links (one use each, 15 minutes):")
        for handle, link in links.items():
            print(f"    @{handle:<6} {link}")
        print(f"\n  demo user @maya, bearer token: {token}")
        print(f"  try:  curl -s -H 'Authorization: Bearer {token}' {server}/api/v1/feed?limit=2")
        print("  stop:  make stop")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
