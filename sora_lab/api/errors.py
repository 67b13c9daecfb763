"""One error shape for every failure, `{"error": {"code", "message", "field"?}}`, and the guard around the app.

- Lab errors keep their status and code (`InputError` 400, `NotFound` 404, `PolicyViolation` 403 with
  its reasons, ...).
- A request that does not match the schema (a wrong type, a value out of range, an unknown or
  missing field, a body that is not JSON) is a 422 whose `field` names the culprit.
- `Guard` wraps the whole app: it refuses bodies over the size limit before they are read (413),
  turns any unexpected exception into a 500 with an id (the traceback goes to the server log, never
  to the client, and the keep-alive connection stays usable), and keeps the lab home's absolute path
  out of every JSON answer.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sora_lab.api.types import MAX_BODY_BYTES
from sora_lab.core.errors import LabError, PolicyViolation

log = logging.getLogger("sora_lab.api")

_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "limit_exceeded",
}


def error_json(status: int, code: str, message: str, **extra) -> JSONResponse:
    error = {"code": code, "message": message} | {k: v for k, v in extra.items() if v is not None}
    return JSONResponse({"error": error}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Lab errors, schema mismatches and HTTP errors (404 route, 405 method, 413 body) in the one shape."""

    @app.exception_handler(LabError)
    async def lab_error(request: Request, exc: LabError):
        reasons = exc.reasons if isinstance(exc, PolicyViolation) else None
        return error_json(exc.status, exc.code, str(exc), reasons=reasons)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        field, message = describe_validation_error(exc.errors()[0])
        return error_json(422, "invalid_input", message, field=field)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "request body is not valid JSON: send one UTF-8 JSON object, nested at most a few hundred deep"
        return error_json(exc.status_code, _CODES.get(exc.status_code, "http_error"), message)


def describe_validation_error(error: dict) -> tuple[str | None, str]:
    """(field, message) for one Pydantic error: 'events[0].watch_ms', 'events[0].watch_ms: Input should be ...'."""
    where, *path = error.get("loc") or ("body",)
    if error.get("type") == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        return None, f"request body is not valid JSON ({detail}); send one JSON object"
    field = ""
    for part in path:
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
    text = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        text = "unknown field; see /docs for the fields this operation takes"
    if not field:
        if error.get("type") == "missing":
            return None, "request body is missing: send a JSON object (see /docs for its fields)"
        return None, f"request {where} is not what this operation takes: {text}"
    return field, f"{field}: {text}"


class Guard:
    """Pure ASGI middleware: body size limit, last-resort 500s and no lab-home path in any JSON answer."""

    def __init__(self, app: ASGIApp, *, home: Path, max_body: int = MAX_BODY_BYTES):
        self.app = app
        self.max_body = max_body
        self.home = str(home).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large()(scope, receive, send)
            return
        received = 0
        started = False
        held: dict = {}

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise HTTPException(413, self._too_large_message())
            return message

        async def scrubbing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"application/json"):
                    held.update(start=message, body=b"")
                    return
            elif message["type"] == "http.response.body" and held:
                held["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                body = held["body"].replace(self.home, b"<lab home>")
                start = held.pop("start")
                start["headers"] = [(k, v) for k, v in start.get("headers") or [] if k != b"content-length"]
                start["headers"].append((b"content-length", str(len(body)).encode()))
                held.clear()
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, scrubbing_send)
        except Exception:
            if started:
                raise  # half an answer is out: only closing the connection is honest now
            error_id = secrets.token_hex(6)
            log.exception("unexpected error %s on %s %s", error_id, scope.get("method"), scope.get("path"))
            response = error_json(
                500,
                "internal_error",
                f"the server failed unexpectedly; the operator's log has the details under {error_id}",
                id=error_id,
            )
            await response(scope, receive, send)

    def _too_large_message(self) -> str:
        return f"request body is larger than {self.max_body // (1024 * 1024)} MiB; send less per call"

    def _too_large(self) -> JSONResponse:
        return error_json(413, "body_too_large", self._too_large_message())
