"""Talking to a running lab server: the HTTP transport, its errors rebuilt as the lab's own
exception types, and waiting on a generation job with a progress bar.

The embedded lab raises the same exceptions, so code written against `Lab` handles a refusal
the same way whichever side of the wire the lab is on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from sora_lab.api.access import from_json, to_json
from sora_lab.core import errors
from sora_lab.core.errors import LabError
from sora_lab.core.home import read_json, server_info_path


class LabClient:
    """The HTTP side of `Lab.connect`: one keep-alive connection to one server."""

    def __init__(self, url: str, *, timeout: float = 120):
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def call(self, name: str, kwargs: dict, *, token: str | None) -> Any:
        """Run operation `name` on the server; raises the server's error as its LabError type."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self._http.post(f"/api/rpc/{name}", json=to_json(kwargs), headers=headers)
        body = _json_or_none(response)
        if response.status_code >= 400:
            raise error_from(response.status_code, body)
        return from_json(body["result"])

    def health(self) -> dict:
        try:
            response = self._http.get("/health", timeout=5)
        except httpx.HTTPError as exc:
            raise LabError(
                f"lab server at {self.url} is not reachable ({exc}); start it with `sora-lab serve`"
            ) from exc
        return response.json()

    def close(self) -> None:
        self._http.close()


def running_server_url(home: Path) -> str | None:
    """The URL in home/server.json if that server answers /health for this home."""
    info = read_json(server_info_path(home))
    url = info.get("url")
    if not url:
        return None
    try:
        response = httpx.get(f"{url}/health", timeout=2)
        if response.status_code == 200 and response.json().get("home") == str(home):
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


def wait_for_job(lab, job: dict, *, as_user: str, bar: str = "tqdm", poll_s: float = 0.25) -> dict:
    """Poll a queued job until it ends, with a progress bar: 'tqdm' (notebooks), 'rich' (the CLI) or 'none'.

    Returns the job's result; raises the job's error as the matching LabError when it failed.
    """

    def poll() -> dict:
        return lab.videos.job(as_user=as_user, job_id=job["job_id"])

    state = poll()
    if bar == "none":
        while state["state"] in ("queued", "running"):
            time.sleep(poll_s)
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
                time.sleep(poll_s)
                state = poll()
    else:
        from tqdm.auto import tqdm

        with tqdm(total=100, desc="queued", unit="%") as progress:
            while state["state"] in ("queued", "running"):
                progress.set_description(state["stage"])
                progress.update(round(state["progress"] * 100) - progress.n)
                time.sleep(poll_s)
                state = poll()
            progress.update(100 - progress.n if state["state"] == "done" else 0)
    if state["state"] == "failed":
        error = state["error"] or {}
        raise error_from(403 if error.get("code") == errors.PolicyViolation.code else 400, {"error": error})
    return state["result"]
