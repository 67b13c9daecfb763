"""The feed and engagement: cursor-paged, steerable pages and the score behind them; views, likes, shares,
comments and follows in idempotent batches; counts; blocking authors; the operator's sync and rebuild."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field, computed_field

from sora_lab.accounts.service import User
from sora_lab.api.auth import current_admin, current_member, lab_services
from sora_lab.api.types import Handle, Id, Reply, Request, Text, example
from sora_lab.feed.engagement import MAX_BATCH, MAX_COMMENT_CHARS, MAX_WATCH_MS
from sora_lab.feed.service import MAX_EXPLAIN, MAX_LIMIT
from sora_lab.feed.steer import MAX_STEER_CHARS

router = APIRouter(tags=["feed and engagement"])


class Counts(Reply):
    views: int
    likes: int
    shares: int
    remixes: int
    comments: int


class FeedItem(Reply):
    video_id: str
    pos: int = Field(description="position in this scroll session (what `seen_through` refers to)")
    author_id: str
    author: str
    prompt: str
    duration_ms: int
    width: int
    height: int
    media: str | None = Field(description="the clip's file under the media folder")
    poster: str | None
    media_path: str | None
    poster_path: str | None
    parent_id: str | None
    published_at: str
    cameos: list[str]
    score: float
    reasons: list[str] = Field(description="why the ranker placed it here, in words")
    counts: Counts
    liked: bool

    @computed_field
    @property
    def media_url(self) -> str | None:
        return f"/media/{self.media}" if self.media else None

    @computed_field
    @property
    def poster_url(self) -> str | None:
        return f"/media/{self.poster}" if self.poster else None


class Page(Reply):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe",
                            "pos": 0,
                            "author_id": "u_730285ef5a64d010",
                            "author": "maya",
                            "prompt": "a red ball bounces on a navy background",
                            "duration_ms": 10000,
                            "width": 360,
                            "height": 640,
                            "media": "videos/a46b58a4438e8859f35c2c5fb9f8c4fe.mp4",
                            "poster": "posters/a46b58a4438e8859f35c2c5fb9f8c4fe.jpg",
                            "parent_id": None,
                            "published_at": "2026-12-04T13:17:28",
                            "cameos": [],
                            "score": 1.6,
                            "reasons": ["from @maya, whom you follow"],
                            "counts": {"views": 0, "likes": 0, "shares": 0, "remixes": 0, "comments": 0},
                            "liked": False,
                            "media_url": "/media/videos/a46b58a4438e8859f35c2c5fb9f8c4fe.mp4",
                            "poster_url": "/media/posters/a46b58a4438e8859f35c2c5fb9f8c4fe.jpg",
                        }
                    ],
                    "next_cursor": "eyJzIjoxLCJwIjowfQ.3f1c",
                    "session": 1,
                    "steer": None,
                }
            ]
        }
    )
    items: list[FeedItem]
    next_cursor: str | None = Field(description="pass it back for the next page; null at the end")
    session: int
    steer: str | None


class ScoreParts(Reply):
    """The score's parts in score points; they add up to the item's `score`."""

    recency: float
    engagement: float
    taste: float
    steer: float
    follow: float
    remix_of_liked: float


class ExplainedItem(Reply):
    rank: int = Field(description="1 = what a new feed session would show first")
    video_id: str
    author_id: str
    author: str
    prompt: str
    published_at: str
    duration_ms: int
    score: float
    parts: ScoreParts
    reasons: list[str] = Field(description="why the ranker placed it here, in words")
    views: int
    watch_throughs: int
    likes: int
    shares: int
    remixes: int


class SteerTopic(Reply):
    text: str
    direction: Literal["more", "fewer"]


class Priors(Reply):
    """Lab-wide rates per view: what a clip with no views is assumed to do."""

    watch_through: float
    like: float
    share: float


class Weights(Reply):
    recency: float
    half_life_hours: float
    engagement: float
    prior_views: float
    taste: float
    steer: float
    steer_floor: float
    follow: float
    remix_of_liked: float
    pool_size: int


class Explained(Reply):
    model_config = example(
        {
            "items": [
                {
                    "rank": 1,
                    "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe",
                    "author_id": "u_730285ef5a64d010",
                    "author": "maya",
                    "prompt": "a yellow star spins on a black background",
                    "published_at": "2026-12-04T13:17:28",
                    "duration_ms": 10000,
                    "score": 2.41,
                    "parts": {"recency": 0.98, "engagement": 0.12, "taste": 0.71, "steer": 0.0, "follow": 0.6,
                              "remix_of_liked": 0.0},
                    "reasons": ["close to clips you watched through (taste 0.71)", "from @maya, whom you follow"],
                    "views": 6,
                    "watch_throughs": 5,
                    "likes": 2,
                    "shares": 0,
                    "remixes": 0,
                }
            ],
            "steer": "more stars",
            "topics": [{"text": "stars", "direction": "more"}],
            "ranked_at": "2026-12-04T14:02:11",
            "priors": {"watch_through": 0.52, "like": 0.18, "share": 0.01},
            "weights": {"recency": 1.0, "half_life_hours": 24.0, "engagement": 0.8, "prior_views": 20.0,
                        "taste": 1.5, "steer": 4.0, "steer_floor": 0.2, "follow": 0.6, "remix_of_liked": 0.5,
                        "pool_size": 600},
        }
    )
    items: list[ExplainedItem]
    steer: str | None
    topics: list[SteerTopic] = Field(description="the steer text as the ranker read it")
    ranked_at: str
    priors: Priors
    weights: Weights


class Event(Request):
    """One client event. `video_id` for view/like/unlike/share/comment, `user_id` for follow/unfollow,
    `watch_ms` for views, `text` for comments; `client_event_id` makes a retry safe."""

    type: Literal["session_start", "view", "like", "unlike", "share", "comment", "follow", "unfollow"]
    video_id: Id | None = None
    user_id: Id | None = None
    watch_ms: int | None = Field(None, ge=0, le=MAX_WATCH_MS)
    text: Text(MAX_COMMENT_CHARS) | None = None
    client_event_id: Text(100, min_length=1) | None = None


class Record(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {"type": "like", "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe", "client_event_id": "c-1"},
                        {
                            "type": "view",
                            "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe",
                            "watch_ms": 4200,
                            "client_event_id": "c-2",
                        },
                    ]
                }
            ]
        }
    )
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH)


class Recorded(Reply):
    model_config = ConfigDict(json_schema_extra={"examples": [{"stored": 2, "duplicates": 0}]})
    stored: int
    duplicates: int = Field(description="events whose client_event_id was already stored (retries)")


class VideoCounts(Counts):
    model_config = example(
        {
            "video_id": "a46b58a4438e8859f35c2c5fb9f8c4fe",
            "views": 12,
            "likes": 3,
            "shares": 1,
            "remixes": 0,
            "comments": 0,
        }
    )
    video_id: str


class Block(Request):
    """Exactly one of `user_id` or `handle`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"handle": "theo"}]})
    user_id: Id | None = None
    handle: Handle | None = None


class Blocked(Reply):
    blocked: str


class Unblocked(Reply):
    model_config = example({"unblocked": "u_60a6e067cb27ca69"})
    unblocked: str


class Synced(Reply):
    model_config = example({"videos_added": 2, "prompts_embedded": 2, "signals_folded": 14})
    videos_added: int
    prompts_embedded: int
    signals_folded: int


class Rebuilt(Reply):
    model_config = example({"videos": 24, "users_with_taste": 5})
    videos: int
    users_with_taste: int


@router.get("/feed", operation_id="feed.page", summary="One page of your feed", response_model=Page)
def page(
    cursor: Text(1000, min_length=1) | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(10, ge=1, le=MAX_LIMIT),
    steer: Text(MAX_STEER_CHARS) | None = Query(None, description="words to steer by, e.g. 'more ocean'"),
    seen_through: int | None = Query(
        None, ge=-1, le=2**31, description="with a changed steer: the last pos actually watched (-1: none)"
    ),
    user: User = Depends(current_member),
    lab=Depends(lab_services),
):
    return lab.feed.page(actor_id=user.user_id, cursor=cursor, limit=limit, steer=steer, seen_through=seen_through)


@router.get(
    "/feed/explain",
    operation_id="feed.explain",
    summary="Your own ranking now, with every part of each clip's score",
    response_model=Explained,
)
def explain(
    steer: Text(MAX_STEER_CHARS) | None = Query(None, description="words to steer by, e.g. 'more ocean'"),
    limit: int = Query(20, ge=1, le=MAX_EXPLAIN),
    user: User = Depends(current_member),
    lab=Depends(lab_services),
):
    return lab.feed.explain(actor_id=user.user_id, steer=steer, limit=limit)


@router.post(
    "/engagement",
    operation_id="engagement.record",
    summary="Record a batch of views, likes, shares, comments or follows",
    response_model=Recorded,
)
def record(body: Record, user: User = Depends(current_member), lab=Depends(lab_services)):
    events = [e.model_dump(exclude_none=True) for e in body.events]
    return lab.engagement.record(actor_id=user.user_id, events=events)


@router.get(
    "/videos/{video_id}/counts",
    operation_id="engagement.counts",
    summary="A video's engagement counts",
    response_model=VideoCounts,
)
def counts(video_id: Id, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.engagement.counts(video_id=video_id)


@router.get(
    "/me/likes", operation_id="engagement.liked", summary="Which of these videos you like now", response_model=list[str]
)
def liked(
    video_ids: list[Id] = Query(
        max_length=500, description="repeat the parameter for each id", examples=[["a46b58a4438e8859f35c2c5fb9f8c4fe"]]
    ),
    user: User = Depends(current_member),
    lab=Depends(lab_services),
):
    return lab.engagement.liked(actor_id=user.user_id, video_ids=video_ids)


@router.post(
    "/blocks", operation_id="feed.block", summary="Never show this author's videos to you again", response_model=Blocked
)
def block(body: Block, user: User = Depends(current_member), lab=Depends(lab_services)):
    return lab.feed.block(actor_id=user.user_id, user_id=body.user_id, handle=body.handle)


@router.delete(
    "/blocks", operation_id="feed.unblock", summary="Show this author's videos again", response_model=Unblocked
)
def unblock(
    user_id: Id | None = Query(None),
    handle: Handle | None = Query(None),
    user: User = Depends(current_member),
    lab=Depends(lab_services),
):
    return lab.feed.unblock(actor_id=user.user_id, user_id=user_id, handle=handle)


@router.post(
    "/admin/feed/sync",
    operation_id="feed.sync",
    summary="Mirror new videos, embed prompts, fold waiting signals",
    response_model=Synced,
)
def sync(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.feed.sync()


@router.post(
    "/admin/feed/rebuild",
    operation_id="feed.rebuild",
    summary="Recompute every aggregate and taste vector from the event log",
    response_model=Rebuilt,
)
def rebuild(user: User = Depends(current_admin), lab=Depends(lab_services)):
    return lab.feed.rebuild()
