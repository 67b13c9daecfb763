"""Signing in to the lab's pages: one-time login links, the session tokens they buy, sign-out; workshops."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from sora_lab.accounts.service import User
from sora_lab.accounts.signin import LOGIN_CODE_MINUTES, MAX_LOGIN_CODE_MINUTES
from sora_lab.admin.workshop import MAX_SEATS
from sora_lab.api.auth import current_admin, current_member, lab_services
from sora_lab.api.types import Handle, OpenReply, Reply, Request, Text, example

router = APIRouter(tags=["sign-in and workshops"])

Secret = Text(200, min_length=1, pattern=r"^sl[cs]_[A-Za-z0-9_-]{10,190}$")


class LoginLinkRequest(Request):
    model_config = example({"minutes": 15})
    handle: Handle | None = Field(None, description="whom the link signs in (the operator only); default: you")
    minutes: int = Field(LOGIN_CODE_MINUTES, ge=1, le=MAX_LOGIN_CODE_MINUTES, description="how long it stays good")


class LoginCode(Reply):
    model_config = example({"code": "slc_…", "handle": "maya", "expires_at": "2026-12-04T13:32:22Z"})
    code: str = Field(description="single use; put it in the feed's sign-in link (/signin?code=…)")
    handle: str
    expires_at: str


class SignIn(Request):
    model_config = example({"code": "slc_…"})
    code: Secret = Field(description="the code from a login link")


class Session(Reply):
    model_config = example({"token": "sls_…", "expires_at": "2026-12-05T13:17:22Z", "handle": "maya",
                            "user_id": "u_730285ef5a64d010"})
    token: str = Field(description="a session token: send it as a bearer token; it ends at sign-out or expiry")
    expires_at: str
    handle: str
    user_id: str


class SignOut(Request):
    token: Secret = Field(description="the session token to end")


class SignedOut(Reply):
    model_config = example({"ended": True})
    ended: bool = Field(description="false when the token was no live session (already ended, or unknown)")


class OpenWorkshop(Request):
    model_config = example({"seats": 30})
    seats: int = Field(ge=1, le=MAX_SEATS, description="one invite code per participant")


class Seat(Reply):
    seat: int
    code: str


class Workshop(Reply):
    workshop_id: str
    opened_at: str
    seats: list[Seat]


class ClosedWorkshop(Reply):
    model_config = example({"workshop_id": "w_46aabc83ef322a62", "closed_at": "2026-12-04T16:00:00Z", "revoked": 3,
                            "redeemed": 27})
    workshop_id: str
    closed_at: str
    revoked: int = Field(description="unused codes, now refused")
    redeemed: int


class Reseated(Reply):
    model_config = example({"workshop_id": "w_46aabc83ef322a62", "seat": 7, "code": "K7QX-2M4P"})
    workshop_id: str
    seat: int
    code: str = Field(description="the seat's new invite code; the old one is refused from now on")


class ClassView(OpenReply):
    """The class live: seats taken and, per participant, clips, remixes and likes."""

    model_config = example({"workshop_id": "w_46aabc83ef322a62", "opened_at": "2026-12-04T15:00:00Z",
                            "closed_at": None, "seats_total": 2, "seats_redeemed": 1, "clips": 3, "remixes": 1,
                            "likes": 4, "seats": [
                                {"seat": 1, "code": None, "handle": "ada", "redeemed_at": "2026-12-04T15:02:10Z",
                                 "clips": 3, "remixes": 1, "likes_given": 4, "likes_received": 2},
                                {"seat": 2, "code": "PKHZ-GBXV", "handle": None, "redeemed_at": None, "clips": 0,
                                 "remixes": 0, "likes_given": 0, "likes_received": 0}]})

    workshop_id: str
    opened_at: str
    closed_at: str | None
    seats_total: int
    seats_redeemed: int
    clips: int
    remixes: int
    likes: int
    seats: list[dict]


@router.post("/login-links", operation_id="signin.login_link", summary="Mint a one-time login link",
             response_model=LoginCode, status_code=201)
def login_link(body: LoginLinkRequest, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.signin.login_link(actor_id=user.user_id, **body.model_dump())


@router.post("/sessions", operation_id="signin.sign_in", summary="Spend a login code for a session token",
             response_model=Session, status_code=201)
def sign_in(body: SignIn, lab=Depends(lab_services)):
    return lab.signin.sign_in(code=body.code)


@router.post("/sessions/from-token", operation_id="signin.start_session",
             summary="Trade your token for a session token", response_model=Session, status_code=201)
def start_session(user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.signin.start_session(actor_id=user.user_id)


@router.post("/sessions/end", operation_id="signin.sign_out", summary="End a session (sign out)",
             response_model=SignedOut)
def sign_out(body: SignOut, lab=Depends(lab_services)):
    return lab.signin.sign_out(token=body.token)


@router.post("/workshop", operation_id="workshop.open", summary="Open a workshop: one invite code per seat",
             response_model=Workshop, status_code=201)
def open_workshop(body: OpenWorkshop, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.workshop.open(seats=body.seats)


@router.get("/workshop", operation_id="workshop.status", summary="The class live", response_model=ClassView)
def workshop_status(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.workshop.status()


@router.post("/workshop/seats/{seat}/code", operation_id="workshop.reseat",
             summary="A new code for one unused seat (the old one stops working)", response_model=Reseated,
             status_code=201)
def reseat(seat: int = Path(ge=1, le=MAX_SEATS), user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.workshop.reseat(seat=seat)


@router.delete("/workshop", operation_id="workshop.close", summary="Close the workshop: revoke unused codes",
               response_model=ClosedWorkshop)
def close_workshop(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.workshop.close()
