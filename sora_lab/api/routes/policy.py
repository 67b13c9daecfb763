"""The prompt policy and the rights registries: check a prompt, register rights holders' IP, extend the
public-figure and character registries, link a public figure to their own cameo."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field

from sora_lab.accounts.service import User
from sora_lab.api.auth import current_admin, current_member, lab_services
from sora_lab.api.types import (
    CameoHandle,
    CameoHandles,
    Id,
    Names,
    OpenReply,
    Prompt,
    Reply,
    Request,
    Text,
    example,
)

router = APIRouter(tags=["policy, rights and registries"])

Name = Text(200, min_length=1)


class Check(Request):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"prompt": "@maya surfing a big wave", "cameos": ["maya"]}]}
    )
    prompt: Prompt
    cameos: CameoHandles | None = None


class Decision(OpenReply):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "allowed": False,
                    "reasons": [
                        {
                            "code": "rights_unregistered",
                            "message": "“Mickey Mouse” is a famous character "
                            "of The Walt Disney Company; its rights holder has not opted in",
                            "fix": "describe an original character instead",
                        }
                    ],
                    "cameo_ids": [],
                    "instructions": [],
                    "attributions": [],
                }
            ]
        }
    )
    allowed: bool
    reasons: list[dict[str, Any]] = Field(description="each rule that refused: code, message, fix, words, span")
    cameo_ids: list[str]
    instructions: list[Any]
    attributions: list[Any]


class RegisterIp(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"holder": "Example Studios", "ip_name": "Captain Zorblax", "policy": "allow_with_attribution"}
            ]
        }
    )
    holder: Name
    ip_name: Name
    policy: Literal["block", "allow", "allow_with_attribution"]
    aliases: Names | None = None
    description: Text(500) | None = None
    attribution: Text(300) | None = None


class Ip(Reply):
    model_config = example(
        {
            "policy_id": "ip_fd0ad5baaad64a40",
            "holder": "Example Studios",
            "ip_name": "Captain Zorblax",
            "aliases": [],
            "policy": "allow_with_attribution",
            "attribution": "Captain Zorblax © Example Studios",
            "description": None,
        }
    )
    policy_id: str
    holder: str
    ip_name: str
    aliases: list[str] | None
    policy: str
    attribution: str | None
    description: str | None


class AddFigure(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"figure": "Jane Example", "aliases": ["J. Example"]}]})
    figure: Name
    aliases: Names | None = None
    category: Text(60, min_length=1) = "public_figure"
    source: Text(300) = ""


class AddCharacter(Request):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"character": "Blorbo the Brave", "rights_holder": "Example Studios"}]}
    )
    character: Name
    aliases: Names | None = None
    rights_holder: Text(200) = ""
    category: Text(60, min_length=1) = "character"
    status: Literal["protected", "public_domain"] = "protected"


class LinkFigure(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"figure": "Jane Example", "cameo": "jane"}]})
    figure: Name
    cameo: CameoHandle


class RegistryRow(OpenReply):
    """One added registry row as stored (aliases joined with ';')."""

    name: str
    aliases: str
    category: str


class Linked(Reply):
    figure: str
    cameo: str
    cameo_id: str


class RegistryEntry(Reply):
    model_config = example(
        {
            "kind": "character",
            "name": "Mickey Mouse",
            "aliases": [],
            "holder": "The Walt Disney Company",
            "status": "protected",
        }
    )
    kind: str
    name: str
    aliases: list[str]
    holder: str | None
    status: str | None


class RemovedIp(Reply):
    model_config = example({"removed": "ip_fd0ad5baaad64a40"})
    removed: str


@router.post(
    "/policy/check",
    operation_id="policy.check",
    summary="Would this prompt be allowed for you?",
    response_model=Decision,
)
def check(body: Check, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.policy.check(actor_id=user.user_id, prompt=body.prompt, cameos=body.cameos)


@router.post(
    "/rights/ip",
    operation_id="rights.register",
    summary="Register a rights holder's IP and its policy",
    response_model=Ip,
    status_code=201,
)
def register(body: RegisterIp, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.rights.register(**body.model_dump())


@router.get(
    "/rights/ip", operation_id="rights.list_ip", summary="Registered IP and its use policies", response_model=list[Ip]
)
def list_ip(user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.rights.list_ip()


@router.delete(
    "/rights/ip/{policy_id}", operation_id="rights.remove", summary="Remove registered IP", response_model=RemovedIp
)
def remove(policy_id: Id, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.rights.remove(policy_id=policy_id)


@router.post(
    "/rights/public-figures",
    operation_id="rights.add_public_figure",
    summary="Add a public figure to this lab's registry",
    response_model=RegistryRow,
    status_code=201,
)
def add_public_figure(body: AddFigure, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.rights.add_public_figure(**body.model_dump())


@router.post(
    "/rights/characters",
    operation_id="rights.add_character",
    summary="Add a famous character to this lab's registry",
    response_model=RegistryRow,
    status_code=201,
)
def add_character(body: AddCharacter, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.rights.add_character(**body.model_dump())


@router.post(
    "/rights/public-figures/links",
    operation_id="rights.link_public_figure",
    summary="Record that a cameo is this public figure's own",
    response_model=Linked,
)
def link_public_figure(body: LinkFigure, user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.rights.link_public_figure(figure=body.figure, cameo=body.cameo)


@router.get(
    "/rights/registry",
    operation_id="rights.registry",
    summary="The public-figure and character registries (shipped + this lab's)",
    response_model=list[RegistryEntry],
)
def registry(
    kind: Literal["public_figure", "character"] | None = Query(None),
    user: User = Depends(current_member),
    lab=Depends(lab_services),
):
    return lab.rights.registry(kind=kind)
