"""`sora-lab serve`: the one process that owns a lab's DuckDB file and media.

Every other process (Voilà kernels, the Panel dashboard, notebooks, the CLI)
reaches the lab through this server, because DuckDB locks its file against all
other processes. Writes need a bearer token; media is served with HTTP Range
support so browsers can seek in MP4s.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from sora_lab import __version__
from sora_lab.api.access import ACCESS, dispatch, from_json, to_json
from sora_lab.core.errors import AuthError, InputError, LabError, NotFound, PolicyViolation
from sora_lab.core.home import media_dir, server_info_path, write_json_atomic
from sora_lab.services import Services
from sora_lab.store.db import DB_FILENAME, Store

MAX_BODY_BYTES = 16 * 1024 * 1024  # a cameo upload (base64) fits; anything larger is refused
_MEDIA_PATH = re.compile(r"^(videos|posters|cameos)/[0-9a-f]{16,64}\.(mp4|jpg|png)$")


def _error_response(exc: LabError) -> JSONResponse:
    error = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, PolicyViolation):
        error["reasons"] = exc.reasons
    return JSONResponse({"error": error}, status_code=exc.status)


def create_app(home: Path, *, public_url: str | None = None, warm: bool = False) -> FastAPI:
    """The ASGI app for one lab home. `public_url` is written to server.json for Lab.auto();
    `warm` loads the text model in the background at start (see `_warm_up`)."""
    home = Path(home).resolve()
    store = Store.open(home / DB_FILENAME)
    services = Services(store, home)
    media_root = media_dir(home).resolve()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if public_url:
            write_json_atomic(server_info_path(home), {"url": public_url, "pid": os.getpid(), "home": str(home)})
        if warm:
            threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
        try:
            yield
        finally:
            info = server_info_path(home)
            if public_url and info.exists() and json.loads(info.read_text()).get("pid") == os.getpid():
                info.unlink(missing_ok=True)
            store.checkpoint()
            store.close()

    app = FastAPI(title="Sora Lab", version=__version__, lifespan=lifespan)
    app.state.services = services

    @app.exception_handler(LabError)
    async def lab_error(request: Request, exc: LabError):
        return _error_response(exc)

    @app.get("/health")
    def health() -> dict:
        return {"ok": True, "home": str(home), "version": __version__, "schema_version": store.schema_version()}

    @app.post("/api/rpc/{name}")
    async def rpc(name: str, request: Request):
        if name not in ACCESS:
            raise NotFound(f"no operation {name!r}")
        kwargs = await _read_json_body(request)
        actor = await run_in_threadpool(_actor_from_header, services, request.headers.get("authorization"))
        result = await run_in_threadpool(dispatch, services, name, kwargs, actor, trusted=False)
        return {"result": to_json(result)}

    @app.get("/media/{kind}/{filename}")
    def media(kind: str, filename: str):
        relative = f"{kind}/{filename}"
        if not _MEDIA_PATH.match(relative):
            raise NotFound(f"no media {relative!r}")
        path = (media_root / relative).resolve()
        if media_root not in path.parents or not path.is_file():
            raise NotFound(f"no media {relative!r}")
        media_type = {"mp4": "video/mp4", "jpg": "image/jpeg", "png": "image/png"}[path.suffix[1:]]
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000"})

    return app


async def _read_json_body(request: Request) -> dict:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise _TooLarge()
    if not body:
        return {}
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"request body is not valid JSON ({exc}); send a JSON object of arguments") from exc
    if not isinstance(payload, dict):
        raise InputError("request body must be a JSON object of keyword arguments")
    return from_json(payload)


class _TooLarge(LabError):
    status = 413
    code = "body_too_large"

    def __init__(self):
        super().__init__(f"request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; send less per call")


def _actor_from_header(services: Services, header: str | None):
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'")
    return services.accounts.authenticate(token.strip())


def _warm_up() -> None:
    """Load MiniLM while nobody waits: the first feed page (new prompts to embed) and the first
    prompt check with a cameo rule need it, and loading it on that request took 7-11 s."""
    from sora_lab.core.embeddings import warm

    try:
        warm()
    except Exception as exc:  # the request that needs the model will raise a proper error
        print(f"warm-up: the text model did not load ({exc})", file=sys.stderr, flush=True)


def serve(home: Path, *, host: str = "127.0.0.1", port: int = 8765, log_level: str = "warning",
          warm: bool = True) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    app = create_app(home, public_url=url, warm=warm)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
