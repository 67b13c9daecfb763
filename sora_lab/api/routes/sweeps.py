"""Cancel a job; prompt sweeps: queue a grid of prompts x seeds x settings as drafts and read each cell's figures.

Cells are ordinary jobs (see the videos routes for polling one); a sweep's cells are yours only.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field

from sora_lab.accounts.service import User
from sora_lab.api.auth import current_member, lab_services
from sora_lab.api.routes.videos import Job, checked_model_folder
from sora_lab.api.types import Id, Prompt, Reply, Request, Seed, Text
from sora_lab.videos.sweeps import MAX_VALUES, ORDER_BY

router = APIRouter(tags=["jobs and sweeps"])

Value = str | int | float | bool


class Sweep(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "prompts": ["a red ball bounces on a navy background", "a crimson ball hops on a navy background"],
        "seeds": [0, 1], "options": {"steps": [8, 16]}, "seconds": 4}]})
    prompts: list[Prompt] = Field(min_length=1, max_length=MAX_VALUES)
    seeds: list[Seed] = Field(min_length=1, max_length=MAX_VALUES)
    options: dict[Text(40, min_length=1), list[Value]] | None = Field(
        None, max_length=8, description="each setting's values, e.g. {'steps': [8, 16], 'guidance': [3, 5]}")
    seconds: float = Field(10.0, ge=1, le=60)
    backend: Literal["tiny", "pretrained"] = "tiny"
    model: Text(500, min_length=1) | None = None


class Cell(Reply):
    cell: int
    job_id: str
    prompt: str
    seed: int
    settings: dict[str, Any]
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str
    progress: float
    video_id: str | None
    media_path: str | None
    wall_s: float | None = Field(description="the job's wall time, start to stored row")
    color: str | None = Field(description="tiny model: the colour the evaluator reads from the clip")
    shape: str | None
    motion: str | None
    error: dict[str, Any] | None


class SweepResult(Reply):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "sweep_id": "sweep_5f0c2a9d1e7b4c3a", "created_at": "2026-12-04T15:00:00Z", "done": 1, "failed": 0,
        "pending": 0, "cells": [{
            "cell": 0, "job_id": "job_09239403017a", "prompt": "a red ball bounces on a navy background", "seed": 0,
            "settings": {"steps": 8}, "state": "done", "stage": "done", "progress": 1.0,
            "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe", "media_path": "videos/a46b58a4438e8859f35c2c5fb9f8c4fe.mp4",
            "wall_s": 2.4, "color": "red", "shape": "circle", "motion": "bounces", "error": None}]}]})
    sweep_id: str
    created_at: str
    done: int
    failed: int
    pending: int
    cells: list[Cell]


@router.post("/jobs/{job_id}/cancel", operation_id="videos.cancel_job", summary="Cancel one of your jobs",
             response_model=Job)
def cancel_job(job_id: Id, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.cancel_job(actor_id=user.user_id, job_id=job_id)


@router.post("/sweeps", operation_id="videos.sweep", summary="Queue a prompt sweep as drafts",
             response_model=SweepResult, status_code=202)
def sweep(body: Sweep, user: User = Depends(current_member), lab=Depends(lab_services)):
    fields = body.model_dump() | {"model": checked_model_folder(lab.home, body.model, user)}
    return lab.videos.sweep(actor_id=user.user_id, **fields)


@router.get("/sweeps/{sweep_id}", operation_id="videos.sweep_result", summary="A sweep's cells and their figures",
            response_model=SweepResult)
def sweep_result(sweep_id: Id, order_by: Literal[ORDER_BY] = Query("cell", description="sort the cells by"),  # type: ignore[valid-type]
                 user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.sweep_result(actor_id=user.user_id, sweep_id=sweep_id, order_by=order_by)
