"""Cameos: register your likeness (a photo, or a liveness clip against a challenge), decide who may use it,
see every use and decision, take it out of a video, delete it."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field

from sora_lab.accounts.service import User
from sora_lab.api.auth import current_member, lab_services
from sora_lab.api.types import Base64File, CameoHandle, Handle, Id, Reply, Request, Text, example
from sora_lab.consent.cameos import MAX_RESTRICTION_CHARS, MAX_RESTRICTIONS

router = APIRouter(tags=["cameos"])

Permission = Literal["only_me", "approved", "mutuals", "everyone"]
Restrictions = list[Text(MAX_RESTRICTION_CHARS, min_length=1)]
_RESTRICTIONS = Field(
    None,
    max_length=MAX_RESTRICTIONS,
    description="short rules in plain words, e.g. 'no political content', 'always wearing a hat'",
)


class CreateCameo(Request):
    """Exactly one of `image` (a photo with one clear face, or a character picture) or `video` (a liveness clip
    saying the challenge phrase, with its `challenge_id`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "image": "iVBORw0KGgoAAAANSUhEUgAA...",
                    "permission": "mutuals",
                    "restrictions": ["no political content"],
                }
            ]
        }
    )
    handle: CameoHandle | None = Field(
        None, description="a character's name ('toy' or 'maya/toy'); a person's cameo takes your own handle"
    )
    image: Base64File | None = None
    video: Base64File | None = None
    challenge_id: Id | None = None
    kind: Literal["person", "character"] = "person"
    permission: Permission = "only_me"
    restrictions: Restrictions | None = _RESTRICTIONS


class SetPermission(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"permission": "mutuals"}]})
    permission: Permission


class OtherUser(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"user": "priya"}]})
    user: Handle = Field(description="the person's handle")


class SetRestrictions(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"restrictions": ["never say the word banana"]}]})
    restrictions: Restrictions = Field(max_length=MAX_RESTRICTIONS)


class Restriction(Reply):
    text: str
    kind: str = Field(description="how the lab read the rule")


class Cameo(Reply):
    """A cameo as the caller may see it: its owner also gets the rules, approvals and revocations."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cameo_id": "cam_fffea87a14f1dc2d",
                    "handle": "maya",
                    "owner": "maya",
                    "kind": "person",
                    "is_character": False,
                    "permission": "mutuals",
                    "can_use": True,
                    "created_at": "2026-12-04T13:17:34Z",
                    "reference_path": "media/cameos/cam_fffea87a14f1dc2d.png",
                    "restrictions": [],
                    "approved": ["priya"],
                    "revoked": [],
                }
            ]
        }
    )
    cameo_id: str
    handle: str
    owner: str
    kind: str
    is_character: bool
    permission: str
    can_use: bool
    created_at: str
    reference_path: str | None = Field(None, description="owner only: the reference image, relative to the lab home")
    restrictions: list[Restriction] | None = None
    approved: list[str] | None = None
    revoked: list[str] | None = None


class CreatedCameo(Cameo):
    liveness: dict[str, Any] | None = Field(description="what the liveness check saw (video uploads)")


class Challenge(Reply):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "challenge_id": "chl_d82287246d804307",
                    "phrase": "orbit willow 0 7 5 4",
                    "issued_at": "2026-12-04T13:17:34Z",
                    "expires_at": "2026-12-04T13:27:34Z",
                    "how": "record a 3-10 s clip facing the camera, saying the phrase",
                }
            ]
        }
    )
    challenge_id: str
    phrase: str
    issued_at: str
    expires_at: str
    how: str


class AvailableCameo(Reply):
    model_config = example({"handle": "maya", "kind": "person", "owner": "maya"})
    handle: str
    kind: str
    owner: str


class CameoUse(Reply):
    model_config = example(
        {
            "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe",
            "author": "theo",
            "status": "published",
            "prompt": "@maya waves",
            "created_at": "2026-12-04T13:17:35Z",
            "published_at": "2026-12-04T13:17:35Z",
            "removed": False,
            "visible": True,
        }
    )
    video_id: str
    author: str | None
    status: str
    prompt: str
    created_at: str | None
    published_at: str | None
    removed: bool = Field(description="you took your cameo out of it")
    visible: bool = Field(description="feeds show it now")


class RemovedUse(Reply):
    model_config = example({"removed": True, "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe", "cameo": "maya"})
    removed: bool
    video_id: str
    cameo: str


class AuditEntry(Reply):
    model_config = example(
        {
            "ts": "2026-12-04T13:17:35Z",
            "type": "cameo_use",
            "actor": "theo",
            "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe",
            "props": {"stage": "video"},
        }
    )
    ts: str
    type: str
    actor: str | None
    video_id: str | None
    props: dict[str, Any]


class DeletedCameo(Reply):
    model_config = example({"deleted": "maya", "cameo_id": "cam_fffea87a14f1dc2d"})
    deleted: str
    cameo_id: str


@router.post(
    "/cameos/challenges",
    operation_id="cameos.start_challenge",
    summary="Get a liveness phrase to say in your cameo clip",
    response_model=Challenge,
    status_code=201,
)
def start_challenge(user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.start_challenge(actor_id=user.user_id)


@router.post(
    "/cameos",
    operation_id="cameos.create",
    summary="Register a cameo from a photo or a liveness clip",
    response_model=CreatedCameo,
    status_code=201,
)
def create(body: CreateCameo, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.create(actor_id=user.user_id, **dict(body))  # dict(): the uploads stay the decoded bytes


@router.get(
    "/cameos",
    operation_id="cameos.available",
    summary="Other people's cameos you may use now",
    response_model=list[AvailableCameo],
)
def available(user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.available(actor_id=user.user_id)


@router.get("/me/cameos", operation_id="cameos.mine", summary="Your cameos", response_model=list[Cameo])
def mine(user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.mine(actor_id=user.user_id)


@router.put(
    "/cameos/{handle:path}/permission",
    operation_id="cameos.set_permission",
    summary="Who may use your cameo: only_me, approved, mutuals or everyone",
    response_model=Cameo,
)
def set_permission(
    handle: CameoHandle, body: SetPermission, user: User = Depends(current_member), lab=Depends(lab_services)
):
    return lab.cameos.set_permission(actor_id=user.user_id, handle=handle, permission=body.permission)


@router.post(
    "/cameos/{handle:path}/approvals",
    operation_id="cameos.approve",
    summary="Let one person use your cameo",
    response_model=Cameo,
)
def approve(handle: CameoHandle, body: OtherUser, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.approve(actor_id=user.user_id, handle=handle, user=body.user)


@router.post(
    "/cameos/{handle:path}/revocations",
    operation_id="cameos.revoke",
    summary="Stop one person using your cameo at every permission level",
    response_model=Cameo,
)
def revoke(handle: CameoHandle, body: OtherUser, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.revoke(actor_id=user.user_id, handle=handle, user=body.user)


@router.put(
    "/cameos/{handle:path}/restrictions",
    operation_id="cameos.set_restrictions",
    summary="Replace your cameo's rules",
    response_model=Cameo,
)
def set_restrictions(
    handle: CameoHandle, body: SetRestrictions, user: User = Depends(current_member), lab=Depends(lab_services)
):
    return lab.cameos.set_restrictions(actor_id=user.user_id, handle=handle, restrictions=body.restrictions)


@router.get(
    "/cameos/{handle:path}/uses",
    operation_id="cameos.uses",
    summary="Every video, anyone's, that uses your cameo",
    response_model=list[CameoUse],
)
def uses(handle: CameoHandle, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.uses(actor_id=user.user_id, handle=handle)


@router.delete(
    "/cameos/{handle:path}/uses/{video_id}",
    operation_id="cameos.remove_use",
    summary="Take your cameo out of someone's video",
    response_model=RemovedUse,
)
def remove_use(handle: CameoHandle, video_id: Id, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.remove_use(actor_id=user.user_id, handle=handle, video_id=video_id)


@router.get(
    "/cameos/{handle:path}/audit",
    operation_id="cameos.audit",
    summary="Every use and decision about your cameo, newest first",
    response_model=list[AuditEntry],
)
def audit(
    handle: CameoHandle,
    limit: int = Query(200, ge=1, le=10_000),
    user: User = Depends(current_member),
    lab=Depends(lab_services),
):
    return lab.cameos.audit(actor_id=user.user_id, handle=handle, limit=limit)


# The bare /cameos/{handle} routes come last: a character's handle holds a '/' ('maya/toy'), so
# {handle:path} would otherwise swallow '/uses' or '/audit'.
@router.get("/cameos/{handle:path}", operation_id="cameos.get", summary="One cameo", response_model=Cameo)
def get(handle: CameoHandle, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.get(actor_id=user.user_id, handle=handle)


@router.delete(
    "/cameos/{handle:path}",
    operation_id="cameos.delete",
    summary="Delete your cameo: every video using it leaves the feeds",
    response_model=DeletedCameo,
)
def delete(handle: CameoHandle, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.cameos.delete(actor_id=user.user_id, handle=handle)
