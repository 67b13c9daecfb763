"""The operator's lab: settings, demo seeding and table counts."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import ConfigDict, Field

from sora_lab.accounts.service import User
from sora_lab.api.auth import current_admin, lab_services
from sora_lab.api.types import Region, Reply, Request, example

router = APIRouter(prefix="/admin", tags=["admin and settings"])


class Settings(Reply):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invites_per_user": 4,
                    "allowed_regions": ["US", "CA"],
                    "invite_required": True,
                    "daily_generation_limit": 30,
                    "cameo_liveness_required": True,
                }
            ]
        }
    )
    invites_per_user: int = Field(description="codes each new member may mint")
    allowed_regions: list[str] = Field(description="regions that may redeem; empty: everywhere")
    invite_required: bool
    daily_generation_limit: int = Field(description="clips per user and UTC day")
    cameo_liveness_required: bool = Field(description="a person cameo needs a liveness clip, not just a photo")


class SettingsChanges(Request):
    invites_per_user: int | None = Field(None, ge=0, le=1000)
    allowed_regions: list[Region] | None = Field(None, max_length=300)
    invite_required: bool | None = None
    daily_generation_limit: int | None = Field(None, ge=0, le=1_000_000)
    cameo_liveness_required: bool | None = None


class UpdateSettings(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"changes": {"daily_generation_limit": 50}}]})
    changes: SettingsChanges = Field(description="only the settings to change")


class Seeded(Reply):
    model_config = example({"seeded": True, "users": 6, "follows": 6})
    seeded: bool
    users: int | None = None
    follows: int | None = None


class Stats(Reply):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "schema_version": 9,
                    "rows": {
                        "users": 6,
                        "invites": 5,
                        "follows": 6,
                        "cameos": 0,
                        "videos": 0,
                        "likes": 0,
                        "comments": 0,
                        "events": 21,
                    },
                }
            ]
        }
    )
    schema_version: int
    rows: dict[str, int] = Field(description="row counts per table")


@router.get("/settings", operation_id="admin.settings", summary="The lab's settings", response_model=Settings)
def settings(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.admin.settings()


@router.patch(
    "/settings", operation_id="admin.update_settings", summary="Change some settings", response_model=Settings
)
def update_settings(body: UpdateSettings, user: User = Depends(current_admin), lab=Depends(lab_services)):
    changes = body.changes.model_dump(exclude_none=True)  # null, like leaving it out: unchanged
    if "allowed_regions" in changes:
        changes["allowed_regions"] = [r.upper() for r in changes["allowed_regions"]]
    return lab.admin.update_settings(changes=changes)


@router.post(
    "/seed-demo", operation_id="admin.seed_demo", summary="Add the demo people and follows", response_model=Seeded
)
def seed_demo(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.admin.seed_demo()


@router.get("/stats", operation_id="admin.stats", summary="Schema version and row counts", response_model=Stats)
def stats(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.admin.stats()
