"""Accounts and invites: sign up (the waitlist), redeem an invite, who am I, mint an invite, list users."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import ConfigDict, Field

from sora_lab.accounts.service import User
from sora_lab.api.auth import current_admin, current_member, current_user, lab_services, optional_user
from sora_lab.api.types import Handle, Region, Reply, Request, Text, example

router = APIRouter(tags=["accounts and invites"])

DisplayName = Text(80)


class Signup(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"handle": "sam", "region": "US"}]})
    handle: Handle
    region: Region = Field(description="two-letter country code; only the lab's allowed regions may redeem")
    display_name: DisplayName | None = None


class Redeem(Request):
    """Without a token: `handle` and `region` create the account. With a waitlisted account's token: neither."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "ABCD-2345", "handle": "sam", "region": "US"}]})
    code: Text(40, min_length=1) = Field(description="the invite code, e.g. ABCD-2345")
    handle: Handle | None = None
    region: Region | None = None
    display_name: DisplayName | None = None


class UserRow(Reply):
    """An account as the operator lists it."""

    model_config = example(
        {
            "user_id": "u_730285ef5a64d010",
            "handle": "maya",
            "display_name": None,
            "region": "US",
            "created_at": "2026-12-04T13:17:22Z",
            "redeemed_at": "2026-12-04T13:17:22Z",
            "invited_by": "u_c2e55b4d85fb9bf0",
            "invites_left": 2,
            "is_admin": False,
        }
    )
    user_id: str
    handle: str
    display_name: str | None
    region: str
    created_at: str
    redeemed_at: str | None
    invited_by: str | None
    invites_left: int
    is_admin: bool


class Account(UserRow):
    """An account as its owner sees it."""

    has_access: bool = Field(description="redeemed an invite (or the operator): may use the feed and generate")


class Redeemed(Account):
    token: str | None = Field(None, description="the new account's bearer token, shown once (only when one was made)")


class SignedUp(Reply):
    user_id: str
    handle: str
    token: str = Field(description="the bearer token, shown once: keep it")
    has_access: bool


class Invite(Reply):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "5EQX-5SMY", "invites_left": 1}]})
    code: str
    invites_left: int | None = Field(description="codes you may still mint (null: unlimited, the operator)")


@router.post(
    "/accounts",
    operation_id="accounts.signup",
    summary="Sign up (join the waitlist)",
    response_model=SignedUp,
    status_code=201,
)
def signup(body: Signup, lab=Depends(lab_services)):
    return lab.accounts.signup(**body.model_dump())


@router.post(
    "/invites/redeem", operation_id="accounts.redeem", summary="Redeem an invite code", response_model=Redeemed
)
def redeem(body: Redeem, user: User | None = Depends(optional_user), lab=Depends(lab_services)):
    return lab.accounts.redeem(actor_id=user.user_id if user else None, **body.model_dump())


@router.get("/me", operation_id="accounts.whoami", summary="Who the token belongs to", response_model=Account)
def whoami(user: User = Depends(current_user), lab=Depends(lab_services)):
    return lab.accounts.whoami(actor_id=user.user_id)


@router.post(
    "/invites", operation_id="accounts.invite", summary="Mint an invite code", response_model=Invite, status_code=201
)
def invite(user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.accounts.invite(actor_id=user.user_id)


@router.get("/users", operation_id="accounts.list_users", summary="Every account", response_model=list[UserRow])
def list_users(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.accounts.list_users()
