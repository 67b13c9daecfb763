"""Who is calling: FastAPI dependencies that turn the bearer token into the caller, one per access level.

A route states its level by the dependency it takes (`Depends(current_member)`), and `ACCESS_LEVELS`
maps each dependency back to the level name that `sora_lab.api.access.ACCESS` uses for the embedded
lab, so the server checks at start that both paths apply the same rule to every operation.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sora_lab.accounts.service import User
from sora_lab.core.errors import AuthError, Forbidden
from sora_lab.services import Services

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A lab token: `sora-lab init` saves the operator's, `sora-lab redeem` (or POST /api/v1/invites/redeem) "
    "returns a member's. Send it as `Authorization: Bearer slt_...`.",
)


def lab_services(request: Request) -> Services:
    """The services of the lab this server owns."""
    return request.app.state.services


def optional_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    services: Services = Depends(lab_services),
) -> User | None:
    """The signed-in caller, or None without a token. A malformed header or an unknown token is a 401,
    never silently anonymous."""
    if credentials is None:
        if request.headers.get("authorization"):
            raise AuthError("Authorization header must be 'Bearer <token>'")
        return None
    return services.accounts.authenticate(credentials.credentials.strip())


def current_user(user: User | None = Depends(optional_user)) -> User:
    """Any signed-in account, also one still on the waitlist."""
    if user is None:
        raise AuthError("this operation needs a signed-in user: send 'Authorization: Bearer <token>'")
    return user


def current_member(user: User = Depends(current_user), services: Services = Depends(lab_services)) -> User:
    """A signed-in account that redeemed an invite (or the operator)."""
    return services.accounts.require_access(user)


def current_admin(user: User = Depends(current_user)) -> User:
    """The lab operator (the token `sora-lab init` saved for @lab)."""
    if not user.is_admin:
        raise Forbidden("this operation is for the lab operator; use the admin token from `sora-lab init`")
    return user


ACCESS_LEVELS = {optional_user: "optional", current_user: "user", current_member: "member", current_admin: "admin"}
"""Each auth dependency and the ACCESS level it enforces; a route with none of them is public."""

LEVEL_TEXT = {
    "public": "anyone; no token needed",
    "optional": "anyone; a token, when sent, says who is asking",
    "user": "any signed-in account, also one still on the waitlist",
    "member": "a signed-in account that redeemed an invite",
    "admin": "the lab operator (the admin token from `sora-lab init`)",
}
