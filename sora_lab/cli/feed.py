"""`sora-lab feed …`: read the ranked feed and send engagement from a terminal or script."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from sora_lab.cli.common import AsOpt, HomeOpt, JsonOpt, ServerOpt, emit, fails_cleanly, open_lab

feed_app = typer.Typer(help="The ranked feed: pages with signed cursors, steering, engagement.", no_args_is_help=True)


def _page_text(result: dict) -> str:
    lines = []
    for item in result["items"]:
        counts = item["counts"]
        lines.append(
            f"{item['pos']:>4}  {item['video_id']}  @{item['author']:<10} {item['score']:+.2f}  "
            f"♥{counts['likes']} ▶{counts['views']}  {item['prompt'][:50]}"
        )
        lines.append(f"      why: {'; '.join(item['reasons'][:3])}")
    lines.append(f"next cursor: {result['next_cursor'] or '(end of feed)'}")
    return "\n".join(lines)


@feed_app.command("page")
@fails_cleanly
def page(
    as_user: AsOpt,
    cursor: Annotated[str | None, typer.Option(help="next_cursor from the previous page; omit to start.")] = None,
    limit: Annotated[int, typer.Option(help="Videos per page (1-50).")] = 10,
    steer: Annotated[str | None, typer.Option(help="e.g. 'more ocean clips, fewer spinning stars'.")] = None,
    home: HomeOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One page of USER's feed, with reasons for every video."""
    with open_lab(home, server) as lab:
        result = lab.feed.page(as_user=as_user, cursor=cursor, limit=limit, steer=steer)
    emit(result, as_json, _page_text(result))


def _engage(home: Path | None, server: str | None, as_user: str, event: dict) -> dict:
    event = {"client_event_id": f"cli-{uuid.uuid4().hex}"} | event
    with open_lab(home, server) as lab:
        stored = lab.engagement.record(as_user=as_user, events=[event])
        if event.get("video_id"):
            stored |= {"counts": lab.engagement.counts(as_user=as_user, video_id=event["video_id"])}
    return stored


VideoArg = Annotated[str, typer.Argument(help="The video id.")]


@feed_app.command("like")
@fails_cleanly
def like(video_id: VideoArg, as_user: AsOpt, undo: Annotated[bool, typer.Option(help="Unlike instead.")] = False,
         home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Like (or --undo: unlike) a video."""
    result = _engage(home, server, as_user, {"type": "unlike" if undo else "like", "video_id": video_id})
    emit(result, as_json, f"{'unliked' if undo else 'liked'} {video_id}: {result['counts']['likes']} likes")


@feed_app.command("view")
@fails_cleanly
def view(video_id: VideoArg, as_user: AsOpt,
         watch_ms: Annotated[int, typer.Option(help="How long it was watched, in milliseconds.")],
         home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Record that USER watched a video for WATCH_MS milliseconds."""
    result = _engage(home, server, as_user, {"type": "view", "video_id": video_id, "watch_ms": watch_ms})
    emit(result, as_json, f"view recorded: {result['counts']['views']} views")


@feed_app.command("share")
@fails_cleanly
def share(video_id: VideoArg, as_user: AsOpt, home: HomeOpt = None, server: ServerOpt = None,
          as_json: JsonOpt = False) -> None:
    """Record a share of a video."""
    result = _engage(home, server, as_user, {"type": "share", "video_id": video_id})
    emit(result, as_json, f"share recorded: {result['counts']['shares']} shares")


@feed_app.command("block")
@fails_cleanly
def block(handle: Annotated[str, typer.Argument(help="The author to hide, e.g. theo.")], as_user: AsOpt,
          undo: Annotated[bool, typer.Option(help="Unblock instead.")] = False,
          home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Hide (or --undo: show again) an author's videos in USER's feed."""
    with open_lab(home, server) as lab:
        result = (lab.feed.unblock if undo else lab.feed.block)(as_user=as_user, handle=handle)
    emit(result, as_json)


@feed_app.command("sync")
@fails_cleanly
def sync(home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Mirror new videos, embed their prompts and fold waiting engagement into the ranking (operator)."""
    with open_lab(home, server) as lab:
        result = lab.feed.sync()
    emit(result, as_json)


@feed_app.command("rebuild")
@fails_cleanly
def rebuild(home: HomeOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute feed aggregates and taste vectors from the event log (operator)."""
    with open_lab(home, server) as lab:
        result = lab.feed.rebuild()
    emit(result, as_json)
