"""Talking to a running lab server: calling its v1 routes by operation name, its errors rebuilt as the
lab's own exception types, and waiting on a generation job with a progress bar.

The embedded lab raises the same exceptions, so code written against `Lab` handles a refusal
the same way whichever side of the wire the lab is on.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sora_lab.api.access import to_json
from sora_lab.core import errors
from sora_lab.core.errors import InputError, LabError
from sora_lab.core.home import read_json, server_info_path

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class Route:
    """Where one operation lives on the server, read from its OpenAPI document: the method, the path
    template and which arguments go in the path and the query; the rest is the JSON body."""

    name: str
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    has_body: bool

    def request(self, kwargs: dict) -> tuple[str, dict, dict | None]:
        """(path, query, body) for a call with these keyword arguments (None values are left out)."""
        given = {k: _jsonable(v) for k, v in kwargs.items() if v is not None}
        missing = [p for p in self.path_params if p not in given]
        if missing:
            raise InputError(f"{self.name}: missing required argument {missing[0]!r}")
        path = self.path
        for param in self.path_params:
            path = path.replace(f"{{{param}}}", quote(str(given.pop(param)), safe=""))
        query = {k: given.pop(k) for k in self.query_params if k in given}
        if given and not self.has_body:
            accepted = ", ".join(self.path_params + self.query_params) or "none"
            raise InputError(f"{self.name}: unknown argument {next(iter(given))!r}; accepted: {accepted}")
        return path, query, given if self.has_body else None


def routes_from_openapi(spec: dict) -> dict[str, Route]:
    """Every operation of an OpenAPI document by its operationId."""
    routes = {}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            name = operation.get("operationId")
            if not name:
                continue
            params = operation.get("parameters", [])
            routes[name] = Route(
                name=name, method=method.upper(), path=path,
                path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                query_params=tuple(p["name"] for p in params if p["in"] == "query"),
                has_body="requestBody" in operation,
            )
    return routes


def _jsonable(value: Any) -> Any:
    """Arguments as JSON: bytes as base64 (uploads), paths as text, the rest as the embedded lab returns them."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return to_json(value)


class LabClient:
    """The HTTP side of `Lab.connect`: one keep-alive connection to one server, calling its v1 routes by
    operation name (`videos.get`); the route table is read once from the server's /openapi.json.
    A server that does not answer raises `ServerUnreachable`. (httpx loads here, not with this module:
    an embedded lab never needs it, and it is 0.1 s of a cold `sora-lab generate`.)"""

    def __init__(self, url: str, *, timeout: float = 120):
        import httpx

        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._routes: dict[str, Route] | None = None
        self._lock = threading.Lock()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise errors.ServerUnreachable(f"the lab server at {self.url} did not answer ({exc}); "
                                           "start it with `sora-lab serve`, or check the address") from None

    def route(self, name: str) -> Route:
        with self._lock:
            if self._routes is None:
                response = self._send("GET", "/openapi.json", timeout=30)
                if response.status_code != 200:
                    raise LabError(f"lab server at {self.url} has no API description (HTTP {response.status_code}); "
                                   "is it a sora-lab server of this version?")
                self._routes = routes_from_openapi(response.json())
        if name not in self._routes:
            raise errors.NotFound(f"the lab server at {self.url} has no operation {name!r}; is it an older version?")
        return self._routes[name]

    def call(self, name: str, kwargs: dict, *, token: str | None) -> Any:
        """Run operation `name` on the server; raises the server's error as its LabError type."""
        route = self.route(name)
        path, query, body = route.request(kwargs)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self._send(route.method, path, params=query, json=body, headers=headers)
        payload = _json_or_none(response)
        if response.status_code >= 400:
            raise error_from(response.status_code, payload)
        return payload

    def media(self, relative_path: str, *, headers: dict) -> bytes:
        """GET /media/<relative_path>: a clip, poster or cameo picture, as the token in `headers` may see it."""
        response = self._send("GET", f"/media/{relative_path}", headers=headers)
        if response.status_code >= 400:
            raise error_from(response.status_code, _json_or_none(response))
        return response.content

    def health(self) -> dict:
        return self._send("GET", "/health", timeout=5).json()

    def close(self) -> None:
        self._http.close()


def add_local_paths(value: Any, media_root: Path) -> Any:
    """Give video records from the server the `path` and `poster` keys the embedded lab returns, as files
    under this lab home's media folder (the server names its files only by URL). They exist where the
    client shares the server's home, as the CLI does; elsewhere fetch `media_url` instead."""
    if isinstance(value, list):
        for item in value:
            add_local_paths(item, media_root)
    elif isinstance(value, dict):
        if {"video_id", "media_url", "poster_url", "media_path"} <= value.keys():
            value["path"] = str(media_root / value["media_path"]) if value["media_url"] else None
            value["poster"] = str(media_root / value["poster_path"]) if value["poster_url"] else None
        for item in value.values():
            if isinstance(item, dict | list):
                add_local_paths(item, media_root)
    return value


def running_server_url(home: Path) -> str | None:
    """The URL in home/server.json if the server there answers /health as the instance that wrote it."""
    info = read_json(server_info_path(home))
    url = info.get("url")
    if not url or not info.get("instance"):
        return None
    import httpx

    try:
        response = httpx.get(f"{url}/health", timeout=2)
        if response.status_code == 200 and response.json().get("instance") == info["instance"]:
            return url
    except (httpx.HTTPError, ValueError):
        return None
    return None


_ERRORS_BY_CODE = {
    cls.code: cls
    for cls in (
        errors.InputError,
        errors.NotFound,
        errors.Conflict,
        errors.AuthError,
        errors.Forbidden,
        errors.ConsentError,
        errors.LimitExceeded,
        errors.SchemaError,
        errors.ServerBusy,
    )
}


def _json_or_none(response: httpx.Response) -> dict | None:
    try:
        return response.json()
    except ValueError:
        return None


def error_from(status: int, body: dict | None) -> LabError:
    """Rebuild the server's error as the same exception type the embedded lab raises."""
    detail = (body or {}).get("error") or {}
    message = detail.get("message") or f"lab server answered HTTP {status}"
    if detail.get("code") == errors.PolicyViolation.code:
        return errors.PolicyViolation(message, detail.get("reasons"))
    cls = _ERRORS_BY_CODE.get(detail.get("code"))
    if cls is None:
        cls = errors.NotFound if status == 404 else errors.InputError if status < 500 else LabError
    return cls(message)


RESTART_GRACE_S = 300
"""How long a waiting client keeps polling a server that does not answer (it may be restarting)."""


def _patient(call):
    """`call()`, retried while the server is unreachable (a restart), for up to RESTART_GRACE_S."""
    deadline = time.monotonic() + RESTART_GRACE_S
    while True:
        try:
            return call()
        except errors.ServerUnreachable:
            if time.monotonic() > deadline:
                raise LabError(f"the lab server did not come back within {RESTART_GRACE_S} s") from None
            time.sleep(1.0)


JOB_BAR = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}"
"""A job's tqdm bar: its stage, percent done and time so far (a rate of percent per second means nothing)."""
SWEEP_BAR = "{desc}: {n_fmt}/{total_fmt} clips|{bar}| {elapsed}"


def wait_for_job(lab, job: dict, *, as_user: str, bar: str = "tqdm", poll_s: float = 0.25) -> dict:
    """Poll a queued job until it ends, with a progress bar: 'tqdm' (notebooks), 'rich' (the CLI) or 'none'.

    Jobs are durable, so a server restart on the way is waited out. Returns the job's result;
    raises the job's error as the matching LabError when it failed or was cancelled.
    """

    def poll() -> dict:
        return _patient(lambda: lab.videos.job(as_user=as_user, job_id=job["job_id"]))

    def pause() -> None:
        lab.pause_on_job(job["job_id"], poll_s)

    state = poll()
    if bar == "none":
        while state["state"] in ("queued", "running"):
            pause()
            state = poll()
    elif bar == "rich":
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeElapsedColumn())
        with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
            task = progress.add_task("queued", total=1.0)
            while state["state"] in ("queued", "running"):
                progress.update(task, completed=state["progress"], description=state["stage"])
                pause()
                state = poll()
    else:
        from tqdm.auto import tqdm

        with tqdm(total=100, desc="queued", bar_format=JOB_BAR) as progress:
            while state["state"] in ("queued", "running"):
                progress.set_description(state["stage"])
                progress.update(round(state["progress"] * 100) - progress.n)
                pause()
                state = poll()
            progress.update(100 - progress.n if state["state"] == "done" else 0)
    if state["state"] in ("failed", "cancelled"):
        error = state["error"] or {"code": "cancelled", "message": f"job {job['job_id']} was cancelled"}
        raise error_from(403 if error.get("code") == errors.PolicyViolation.code else 400, {"error": error})
    return state["result"]


def wait_for_sweep(lab, sweep: dict, *, as_user: str, bar: str = "tqdm", poll_s: float = 0.5,
                   order_by: str = "cell") -> dict:
    """Poll a sweep until no cell waits or runs, with a bar over its cells ('tqdm', 'rich' or 'none')."""

    def poll() -> dict:
        return _patient(lambda: lab.videos.sweep_result(as_user=as_user, sweep_id=sweep["sweep_id"],
                                                        order_by=order_by))

    state, total = poll(), len(sweep["cells"])
    if bar == "tqdm":
        from tqdm.auto import tqdm

        with tqdm(total=total, desc="sweep", bar_format=SWEEP_BAR) as progress:
            while state["pending"]:
                progress.update(total - state["pending"] - progress.n)
                time.sleep(poll_s)
                state = poll()
            progress.update(total - progress.n)
    elif bar == "rich":
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
            task = progress.add_task("sweep", total=total)
            while state["pending"]:
                progress.update(task, completed=total - state["pending"])
                time.sleep(poll_s)
                state = poll()
    else:
        while state["pending"]:
            time.sleep(poll_s)
            state = poll()
    return state
