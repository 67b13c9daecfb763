"""The lab's operations and who may call each one, shared by the embedded Lab and the server.

Every operation is `area.method(**kwargs)` on a service object. ACCESS lists
each callable operation with who may call it. The embedded lab calls through
`dispatch`, which enforces the rule and injects `actor_id`; the server exposes
each operation as a v1 route named by it (`operation_id="videos.get"`) whose auth
dependency enforces the same level, and refuses to start if the two disagree
(`sora_lab.api.server.check_access`). Nothing outside this table is reachable over HTTP.

Access levels:
  public   — anyone; no actor.
  optional — actor_id passed when the caller is signed in, else None.
  user     — any signed-in account (also one still on the waitlist).
  member   — a signed-in account that redeemed an invite.
  admin    — the lab operator (over HTTP: an admin token; embedded: the process owner).
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
from datetime import date, datetime
from typing import Any

from sora_lab.core.errors import AuthError, Forbidden, InputError, NotFound

ACCESS: dict[str, str] = {
    "accounts.signup": "public",
    "accounts.redeem": "optional",
    "accounts.whoami": "user",
    "accounts.invite": "member",
    "accounts.list_users": "admin",
    # --- sign-in (pages) and workshops ---
    "signin.login_link": "member",
    "signin.sign_in": "public",
    "signin.start_session": "member",
    "signin.sign_out": "public",
    "workshop.open": "admin",
    "workshop.status": "admin",
    "workshop.close": "admin",
    "workshop.reseat": "admin",
    "engagement.record": "member",
    "engagement.counts": "member",
    "engagement.liked": "member",
    "admin.settings": "admin",
    "admin.update_settings": "admin",
    "admin.seed_demo": "admin",
    "admin.stats": "admin",
    # --- videos (generation pipeline) ---
    "videos.generate": "member",
    "videos.remix": "member",
    "videos.submit": "member",
    "videos.job": "member",
    "videos.jobs": "member",
    "videos.cancel_job": "member",
    "videos.sweep": "member",
    "videos.sweep_result": "member",
    "videos.publish": "member",
    "videos.unpublish": "member",
    "videos.delete": "member",
    "videos.get": "optional",
    "videos.list_mine": "member",
    "videos.limits": "member",
    "videos.verify": "optional",
    "provenance.trace": "user",  # any signed-in caller; decoding a file costs seconds of CPU
    # --- cameos and policy ---
    "cameos.start_challenge": "member",
    "cameos.create": "member",
    "cameos.get": "member",
    "cameos.mine": "member",
    "cameos.available": "member",
    "cameos.set_permission": "member",
    "cameos.approve": "member",
    "cameos.revoke": "member",
    "cameos.set_restrictions": "member",
    "cameos.uses": "member",
    "cameos.remove_use": "member",
    "cameos.audit": "member",
    "cameos.delete": "member",
    "policy.check": "member",
    "rights.register": "admin",
    "rights.list_ip": "member",
    "rights.remove": "admin",
    "rights.add_public_figure": "admin",
    "rights.add_character": "admin",
    "rights.link_public_figure": "admin",
    "rights.registry": "member",
    # --- feed ---
    "feed.page": "member",
    "feed.explain": "member",
    "feed.block": "member",
    "feed.unblock": "member",
    "feed.sync": "admin",
    "feed.rebuild": "admin",
    # --- metrics ---
    "metrics.summary": "admin",
    "metrics.series": "admin",
    "metrics.sources": "admin",
    "metrics.regions": "admin",
    "metrics.external": "admin",
    "metrics.reference": "public",
    "metrics.mine": "member",  # the caller's own events only; every lab-wide read is the operator's
    "metrics.fit": "admin",
    "metrics.simulate": "admin",
    "metrics.delete_scenario": "admin",
    "metrics.import_series": "admin",
    "metrics.export": "admin",  # writes Parquet to a folder on the lab's machine: the operator's only
}


def dispatch(services, name: str, kwargs: dict, actor, *, trusted: bool) -> Any:
    """Check access, then call `services.<area>.<method>(**kwargs)`.

    actor:   the calling User (from a token or an `as_user` handle), or None.
    trusted: True for the embedded lab — the process owns the file, so it is the operator.
    """
    level = ACCESS.get(name)
    if level is None:
        raise NotFound(f"no operation {name!r}; known: {', '.join(sorted(ACCESS))}")
    if not isinstance(kwargs, dict):
        raise InputError("request body must be a JSON object of keyword arguments")
    if "actor_id" in kwargs:
        raise InputError("actor_id is set from your token; do not pass it")
    area, method_name = name.split(".", 1)
    method = getattr(getattr(services, area), method_name)
    call_kwargs = dict(kwargs)
    takes_actor = "actor_id" in inspect.signature(method).parameters
    if level in {"user", "member"}:
        if actor is None:
            raise AuthError(f"{name} needs a signed-in user: pass a bearer token (as_user / --as)")
        if level == "member":
            services.accounts.require_access(actor)
        if takes_actor:
            call_kwargs["actor_id"] = actor.user_id
    elif level == "optional" and takes_actor:
        call_kwargs["actor_id"] = actor.user_id if actor is not None else None
    elif level == "admin" and not trusted:
        if actor is None or not actor.is_admin:
            raise Forbidden(f"{name} is for the lab operator; use the admin token from `sora-lab init`")
    _check_arguments(name, method, call_kwargs)
    return method(**call_kwargs)


def _check_arguments(name: str, method, kwargs: dict) -> None:
    """Turn a wrong argument into an InputError naming it, before the call runs."""
    params = inspect.signature(method).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in kwargs if k not in params and not accepts_any]
    if unknown:
        allowed = [p for p in params if p != "actor_id" and params[p].kind is not inspect.Parameter.VAR_KEYWORD]
        raise InputError(f"{name}: unknown argument {unknown[0]!r}; accepted: {', '.join(allowed) or 'none'}")
    missing = [
        p.name
        for p in params.values()
        if p.default is inspect.Parameter.empty
        and p.name not in kwargs
        and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if missing:
        raise InputError(f"{name}: missing required argument {missing[0]!r}")


def to_json(value: Any) -> Any:
    """Results to JSON-ready values: dataclasses, datetimes and bytes included."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    return value
