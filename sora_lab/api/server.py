"""`sora-lab serve`: the one process that owns a lab's DuckDB file and media, and its typed HTTP API (v1).

Every other process (Voilà kernels, the Panel dashboard, notebooks, the CLI) reaches the lab through
this server, because DuckDB locks its file against all other processes. The API is REST resources
under /api/v1, one router per area (`sora_lab.api.routes`), each route named by its operation
(`operation_id="videos.get"`, the names of `ACCESS`), so the Python client calls it by name.
/docs (Swagger UI) and /redoc render offline: their scripts come from the `fastapi-offline` package.
Media are served with HTTP Range support so browsers can seek in MP4s.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from sora_lab import __version__
from sora_lab.accounts.service import User
from sora_lab.api.access import ACCESS
from sora_lab.api.auth import ACCESS_LEVELS, LEVEL_TEXT, optional_user
from sora_lab.api.errors import Guard, install_error_handlers
from sora_lab.api.routes import accounts, admin, cameos, feed, metrics, policy, signin, sweeps, videos
from sora_lab.api.types import ErrorBody
from sora_lab.consent.visibility import MEDIA_TYPES, media_file
from sora_lab.core.home import server_info_path, write_json_atomic
from sora_lab.services import Services
from sora_lab.store.db import DB_FILENAME, Store

API_PREFIX = "/api/v1"
ROUTERS = (accounts, signin, videos, sweeps, cameos, policy, feed, metrics, admin)
ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "the lab refused a value (the message names it)", 401: "no token, or an unknown one",
        403: "not allowed (no access yet, someone else's, the operator's, a policy refusal)",
        404: "no such resource, or none you can see", 409: "clashes with stored state",
        413: "body over 16 MiB", 422: "a field has the wrong type or range (`field` names it)",
        429: "a limit reached", 500: "an unexpected failure, with an id for the operator's log",
    }.items()
}

DESCRIPTION = """The lab's operations as REST resources. Every failure answers
`{"error": {"code", "message", "field"?}}`; a wrong type or range is a 422 naming the field.

**Authenticate** with `Authorization: Bearer <token>` (button *Authorize*): the operator's token
is saved by `sora-lab init`; a member gets one from `POST /api/v1/invites/redeem`. Each operation
states its **access** level. **Media** are referred to by URL (`media_url`, e.g.
`/media/videos/<id>.mp4`), served with HTTP Range. Uploads travel as base64 strings in JSON.
The Python client (`Lab.connect(url)`) calls these routes by their operation ids."""


def create_app(home: Path, *, public_url: str | None = None, warm: bool = False, ray: str | None = None,
               ray_shared: Path | None = None) -> FastAPI:
    """The ASGI app for one lab home. `public_url` is written to server.json for Lab.auto();
    `warm` loads the text model in the background at start (see `_warm_up`); `ray` ('auto', 'local'
    or a cluster address) sends renders to Ray actors, their files through `ray_shared` if given."""
    home = Path(home).resolve()
    store = Store.open(home / DB_FILENAME)
    executor = None
    if ray:
        from sora_lab.videos.executors import RayExecutor

        executor = RayExecutor(ray, shared=ray_shared)
    services = Services(store, home, executor=executor)
    instance = secrets.token_hex(8)  # /health names it, server.json too: how a client knows it found this home's server

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if public_url:
            info = {"url": public_url, "pid": os.getpid(), "home": str(home), "instance": instance}
            write_json_atomic(server_info_path(home), info)
        if warm:
            threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
        services.videos.resume()  # jobs a killed server left: queued again once (or failed), staging cleaned
        try:
            yield
        finally:
            if executor is not None:
                executor.close()
            info = server_info_path(home)
            if public_url and info.exists() and json.loads(info.read_text()).get("pid") == os.getpid():
                info.unlink(missing_ok=True)
            store.checkpoint()
            store.close()

    app = FastAPIOffline(
        title="Sora Lab", version=__version__, description=DESCRIPTION, lifespan=lifespan,
        openapi_tags=[{"name": r.router.tags[0], "description": r.__doc__.strip()} for r in ROUTERS],
        swagger_ui_parameters={"persistAuthorization": True, "displayOperationId": True, "validatorUrl": None,
                               "defaultModelsExpandDepth": 0},
    )
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(Guard, home=home)
    check_access()
    for module in ROUTERS:
        app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    describe_access(app)

    @app.get("/health", tags=["server"], summary="Is the server up", operation_id="health")
    def health() -> dict:
        return {"ok": True, "version": __version__, "schema_version": store.schema_version(), "instance": instance}

    @app.get("/media/{kind}/{filename}", tags=["server"], operation_id="media",
             summary="A media file, if the caller may see it now (HTTP Range supported)", response_class=FileResponse,
             description="Clips and posters follow the lab's one visibility rule (`sora_lab.consent.visibility`): "
             "published clips whose cameo consent is current, and the caller's own drafts (send the token). "
             "A cameo's reference image is its owner's alone. Anything else is a 404, also a revoked clip "
             "that was watched before. `Cache-Control: private, no-cache`: no shared cache keeps a copy.",
             responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, 401: ERROR_RESPONSES[401],
                        404: ERROR_RESPONSES[404]})
    def media(kind: str, filename: str, user: User | None = Depends(optional_user)):
        found = media_file(store, home, user.user_id if user else None, f"{kind}/{filename}")
        return FileResponse(found.path, media_type=found.media_type, headers={"Cache-Control": found.cache_control})

    return app


def route_access(route: APIRoute) -> str:
    """The access level a route enforces: the auth dependency it takes (none: public)."""
    for dependency in route.dependant.dependencies:
        if dependency.call in ACCESS_LEVELS:
            return ACCESS_LEVELS[dependency.call]
    return "public"


def check_access() -> None:
    """Refuse to serve a route whose auth dependency enforces another level than ACCESS gives the same
    operation for the embedded lab: the two paths may never disagree."""
    for module in ROUTERS:
        for route in module.router.routes:
            level = route_access(route)
            if ACCESS.get(route.operation_id) != level:
                raise RuntimeError(f"{route.path} ({route.operation_id}) enforces {level!r} but ACCESS says "
                                   f"{ACCESS.get(route.operation_id)!r}; make them agree")


def describe_access(app: FastAPI) -> None:
    """State each operation's access level in its docs (and as `x-access`) when the document is built."""
    build = app.openapi

    def openapi() -> dict:
        schema = build()
        for item in schema["paths"].values():
            for operation in item.values():
                level = ACCESS.get(operation.get("operationId"))
                if level and "x-access" not in operation:
                    detail = operation.get("description", "").strip()
                    operation["description"] = f"**Access: {level}** — {LEVEL_TEXT[level]}." + (
                        f"\n\n{detail}" if detail else "")
                    operation["x-access"] = level
        return schema

    app.openapi = openapi


def _warm_up() -> None:
    """Load MiniLM while nobody waits: the first feed page (new prompts to embed) and the first
    prompt check with a cameo rule need it, and loading it on that request took 7-11 s."""
    from sora_lab.core.embeddings import warm

    try:
        warm()
    except Exception as exc:  # the request that needs the model will raise a proper error
        print(f"warm-up: the text model did not load ({exc})", file=sys.stderr, flush=True)


def serve(home: Path, *, host: str = "127.0.0.1", port: int = 8765, log_level: str = "warning",
          warm: bool = True, ray: str | None = None, ray_shared: Path | None = None) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    app = create_app(home, public_url=url, warm=warm, ray=ray, ray_shared=ray_shared)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
