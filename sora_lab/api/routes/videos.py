"""Videos and jobs: generate (blocking) or queue a clip, poll jobs, remix, publish, unpublish, delete, read,
verify its manifest, and trace any file back to the lab clips it copies.

Media are referred to by URL (`media_url`: `/media/videos/<id>.mp4` on this server), never by a
server path. A model folder may be named by members only inside the lab home's `models/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field, computed_field

from sora_lab.accounts.service import User
from sora_lab.api.auth import current_member, current_user, lab_services, optional_user
from sora_lab.api.types import Base64File, CameoHandles, Id, OpenReply, Prompt, Reply, Request, Seed, Text, example
from sora_lab.core.errors import Forbidden, NotFound

router = APIRouter(tags=["videos and jobs"])

Scalar = str | int | float | bool | None


class Generate(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"prompt": "a red ball bounces on a navy background", "seconds": 10, "seed": 3}]
        }
    )
    prompt: Prompt
    seconds: float = Field(10.0, ge=1, le=60, description="clip length in seconds")
    seed: Seed | None = Field(None, description="leave out for a random one (reported back)")
    cameos: CameoHandles | None = Field(None, description="cameo handles to feature, e.g. ['maya']")
    backend: Literal["tiny", "pretrained"] = "tiny"
    model: Text(500, min_length=1) | None = Field(
        None, description="a model folder's name inside the lab home's models/ (the operator may give any path)"
    )
    draft: bool = Field(False, description="keep it in your drafts instead of publishing")
    options: dict[Text(40), Scalar] | None = Field(
        None, max_length=20, description="sampling settings: tiny: steps, guidance, shift; pretrained: steps, "
        "guidance, width, height, cpu_offload, ..."
    )


class Submit(Generate):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"prompt": "a green square moves right on a black background", "seed": 2, "draft": True}]
        }
    )
    remix_of: Id | None = Field(None, description="queue a remix of this video instead (its backend is kept, "
                                "with these options)")


class Remix(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"prompt": "a blue ball bounces on a navy background"}]})
    prompt: Prompt
    seed: Seed | None = None
    seconds: float | None = Field(None, ge=1, le=60, description="default: the parent's length")
    cameos: CameoHandles | None = None
    draft: bool = False


class Video(Reply):
    """A video record. `media_url` and `poster_url` are paths on this server (GET them; Range works)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe",
                    "author_id": "u_730285ef5a64d010",
                    "author": "maya",
                    "prompt": "a red ball bounces on a navy background",
                    "seed": 1,
                    "backend": "tiny",
                    "model": "sora-lab/tiny-wan@121000",
                    "duration": 10.0,
                    "duration_ms": 10000,
                    "width": 360,
                    "height": 640,
                    "status": "published",
                    "parent_id": None,
                    "media_path": "videos/a46b58a4438e8859f35c2c5fb9f8c4fe.mp4",
                    "poster_path": "posters/a46b58a4438e8859f35c2c5fb9f8c4fe.jpg",
                    "cameo_ids": [],
                    "created_at": "2026-12-04T13:17:28Z",
                    "published_at": "2026-12-04T13:17:28Z",
                    "provenance": {"c2pa": True, "generator": "sora-lab/tiny-wan@121000"},
                    "media_url": "/media/videos/a46b58a4438e8859f35c2c5fb9f8c4fe.mp4",
                    "poster_url": "/media/posters/a46b58a4438e8859f35c2c5fb9f8c4fe.jpg",
                }
            ]
        }
    )
    video_id: str
    author_id: str
    author: str
    prompt: str
    seed: int
    backend: str
    model: str | None
    duration: float
    duration_ms: int
    width: int
    height: int
    status: Literal["draft", "published", "removed"]
    parent_id: str | None
    media_path: str | None = Field(description="the file's name under the lab's media folder")
    poster_path: str | None
    cameo_ids: list[str]
    created_at: str
    published_at: str | None
    provenance: dict[str, Any]

    @computed_field
    @property
    def media_url(self) -> str | None:
        return f"/media/{self.media_path}" if self.media_path and self.status != "removed" else None

    @computed_field
    @property
    def poster_url(self) -> str | None:
        return f"/media/{self.poster_path}" if self.poster_path and self.status != "removed" else None


class NewVideo(Video):
    """A clip just made: its record, and what making it took."""

    timings: dict[str, float] | None = Field(None, description="seconds per pipeline stage (model, motion, audio, ...)")
    sound_events: int | None = Field(None, description="sound hits the soundtrack placed on moments of motion")


class Queued(Reply):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"job_id": "job_09239403017a", "position": 1, "seed": 2}]}
    )
    job_id: str
    position: int = Field(description="1: next to run")
    seed: int


class Job(Reply):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "job_09239403017a",
                    "state": "running",
                    "stage": "model",
                    "progress": 0.31,
                    "result": None,
                    "error": None,
                }
            ]
        }
    )
    job_id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str
    progress: float = Field(description="0..1")
    result: NewVideo | None = Field(description="the new video once done")
    error: dict[str, Any] | None = Field(description="{code, message, reasons?} once failed")
    attempts: int = Field(0, description="how many times a worker started it (a restart runs it once more)")
    prompt: str | None = None
    seed: int | None = None
    sweep_id: str | None = Field(None, description="the sweep it is a cell of")
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class Removed(Reply):
    model_config = example({"video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe", "status": "removed"})
    video_id: str
    status: Literal["removed"]


class Limits(Reply):
    model_config = ConfigDict(json_schema_extra={"examples": [{"daily_limit": 30, "used_today": 1, "left_today": 29}]})
    daily_limit: int
    used_today: int
    left_today: int


class Verification(OpenReply):
    """The C2PA check of a stored clip (what `sora-lab verify FILE` reports for any file)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "c2pa_valid": True,
                    "ai_generated": True,
                    "generator": "sora-lab/tiny-wan@121000",
                    "creator": "@maya",
                    "tampered": False,
                    "signed": True,
                    "validation_state": "Valid",
                    "detail": "signed by this lab's local CA (not a public trust anchor)",
                    "media_url": "/media/videos/a46b58a4438e8859f35c2c5fb9f8c4fe.mp4",
                }
            ]
        }
    )
    c2pa_valid: bool
    ai_generated: bool
    tampered: bool
    signed: bool
    media_url: str


VideoPath = Id


def checked_model_folder(home: Path, value: str | None, user: User) -> str | None:
    """The model folder a caller named, as a path the lab may use: members only inside <home>/models/
    (relative names are taken there), the operator anywhere. A missing folder is refused before
    anything is queued, and no message shows a server path."""
    if value is None:
        return None
    if user.is_admin:
        folder = Path(value).expanduser()
    else:
        root = (Path(home) / "models").resolve()
        folder = (root / value).resolve()
        if folder != root and root not in folder.parents:
            raise Forbidden(
                f"model: {value!r} is outside the lab's model folder; ask the operator to place the "
                "model in the lab home's models/ folder and pass its name relative to it"
            )
    try:
        found = folder.is_dir()
    except OSError:  # a name the file system refuses (too long, ...) names no folder either
        found = False
    if not found:
        raise NotFound(f"model: no model folder {value!r}; name a folder in the lab home's models/")
    return str(folder)


@router.post(
    "/videos",
    operation_id="videos.generate",
    summary="Generate a clip now (waits for it)",
    response_model=NewVideo,
    status_code=201,
)
def generate(body: Generate, user: User = Depends(current_member), lab=Depends(lab_services)):
    fields = body.model_dump() | {"model": checked_model_folder(lab.home, body.model, user)}
    return lab.videos.generate(actor_id=user.user_id, **fields)


@router.post(
    "/jobs",
    operation_id="videos.submit",
    summary="Queue a clip (or a remix); poll the job",
    response_model=Queued,
    status_code=202,
)
def submit(body: Submit, user: User = Depends(current_member), lab=Depends(lab_services)):
    fields = body.model_dump() | {"model": checked_model_folder(lab.home, body.model, user)}
    return lab.videos.submit(actor_id=user.user_id, **fields)


@router.get(
    "/jobs/{job_id}",
    operation_id="videos.job",
    summary="One of your jobs: state, stage, progress, result",
    response_model=Job,
)
def job(job_id: VideoPath, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.job(actor_id=user.user_id, job_id=job_id)


@router.get("/jobs", operation_id="videos.jobs", summary="Your jobs: waiting, running, ended in the last day",
            response_model=list[Job])
def jobs(all: bool = Query(False, description="every job of yours, however old"),  # noqa: A002
         user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.jobs(actor_id=user.user_id, all=all)


@router.post(
    "/videos/{video_id}/remixes",
    operation_id="videos.remix",
    summary="Remix a video with a new prompt (waits for it)",
    response_model=NewVideo,
    status_code=201,
)
def remix(video_id: VideoPath, body: Remix, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.remix(actor_id=user.user_id, video_id=video_id, **body.model_dump())


@router.post(
    "/videos/{video_id}/publish",
    operation_id="videos.publish",
    summary="Publish your draft (the policy and cameo consent are checked again)",
    response_model=Video,
)
def publish(video_id: VideoPath, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.publish(actor_id=user.user_id, video_id=video_id)


@router.post(
    "/videos/{video_id}/unpublish",
    operation_id="videos.unpublish",
    summary="Back to drafts: out of the feed, still yours",
    response_model=Video,
)
def unpublish(video_id: VideoPath, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.unpublish(actor_id=user.user_id, video_id=video_id)


@router.delete(
    "/videos/{video_id}",
    operation_id="videos.delete",
    summary="Delete your video (files removed, id kept for lineage)",
    response_model=Removed,
)
def delete(video_id: VideoPath, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.delete(actor_id=user.user_id, video_id=video_id)


@router.get("/videos/{video_id}", operation_id="videos.get", summary="A video you may see", response_model=Video)
def get(video_id: VideoPath, user: User | None = Depends(optional_user), lab=Depends(lab_services)):
    return lab.videos.get(video_id=video_id, actor_id=user.user_id if user else None)


@router.get(
    "/me/videos", operation_id="videos.list_mine", summary="Your videos, newest first", response_model=list[Video]
)
def list_mine(
    status: Literal["draft", "published"] | None = Query(None, description="filter; default both"),
    limit: int = Query(50, ge=1, le=500),
    user: User = Depends(current_member),
    lab=Depends(lab_services),
):
    return lab.videos.list_mine(actor_id=user.user_id, status=status, limit=limit)


@router.get(
    "/me/limits",
    operation_id="videos.limits",
    summary="Your daily generation limit and what is left",
    response_model=Limits,
)
def limits(user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.videos.limits(actor_id=user.user_id)


@router.get(
    "/videos/{video_id}/verification",
    operation_id="videos.verify",
    summary="Check a stored clip's C2PA manifest",
    response_model=Verification,
)
def verify(video_id: VideoPath, user: User | None = Depends(optional_user), lab=Depends(lab_services)):
    actor_id = user.user_id if user else None
    report = lab.videos.verify(video_id=video_id, actor_id=actor_id)
    report.pop("path", None)  # the server's file: callers get its URL instead
    return report | {"media_url": f"/media/{lab.videos.get(video_id=video_id, actor_id=actor_id)['media_path']}"}


class Trace(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"video": "AAAAIGZ0eXBpc29t..."}]})
    video: Base64File = Field(description="the clip to trace (MP4, WebM or MKV), base64")


class TraceReport(OpenReply):
    """Which of the lab's clips a file is a copy of, and which signals (manifest, watermark, fingerprint) say so;
    a match you may not see is reported without its id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "matched": True,
                    "matches": [
                        {
                            "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe",
                            "creator": "@maya",
                            "visible": True,
                            "signals": {"fingerprint": {"frames": 10}},
                        }
                    ],
                    "detail": "a copy of one clip of this lab",
                }
            ]
        }
    )
    matched: bool
    matches: list[dict[str, Any]]


@router.post(
    "/traces",
    operation_id="provenance.trace",
    summary="Find the lab clips a file is a copy of",
    response_model=TraceReport,
)
def trace(body: Trace, user: User = Depends(current_user), lab=Depends(lab_services)):
    return lab.provenance.trace(video=body.video, actor_id=user.user_id)
