"""`sora-lab feed …`: read the ranked feed and send engagement from a terminal or script."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from sora_lab.cli.common import AsOpt, Cli, lab_command

feed_app = typer.Typer(help="The ranked feed: pages with signed cursors, steering, engagement.", no_args_is_help=True)

VideoArg = Annotated[str, typer.Argument(help="The video id.")]


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


def _engage(cli: Cli, as_user: str, event: dict) -> dict:
    """Record one engagement event (with a fresh idempotency id) and return it with the video's new counts."""
    event = {"client_event_id": f"cli-{uuid.uuid4().hex}"} | event
    stored = cli.lab.engagement.record(as_user=as_user, events=[event])
    return stored | {"counts": cli.lab.engagement.counts(as_user=as_user, video_id=event["video_id"])}


@feed_app.command("page")
@lab_command
def page(
    cli: Cli,
    as_user: AsOpt,
    cursor: Annotated[str | None, typer.Option(help="next_cursor from the previous page; omit to start.")] = None,
    limit: Annotated[int, typer.Option(help="Videos per page (1-50).")] = 10,
    steer: Annotated[str | None, typer.Option(help="e.g. 'more ocean clips, fewer spinning stars'.")] = None,
) -> None:
    """One page of USER's feed, with reasons for every video."""
    result = cli.lab.feed.page(as_user=as_user, cursor=cursor, limit=limit, steer=steer)
    cli.emit(result, _page_text(result))


def _explain_text(result: dict) -> str:
    parts = ("recency", "engagement", "taste", "steer", "follow", "remix_of_liked")
    lines = [f"rank  score  {'  '.join(f'{p[:6]:>6}' for p in parts)}  author      prompt"]
    for item in result["items"]:
        cells = "  ".join(f"{item['parts'][p]:+6.2f}" for p in parts)
        lines.append(f"{item['rank']:>4}  {item['score']:+5.2f}  {cells}  @{item['author']:<10} {item['prompt'][:40]}")
    return "\n".join(lines)


@feed_app.command("explain")
@lab_command
def explain(
    cli: Cli,
    as_user: AsOpt,
    limit: Annotated[int, typer.Option(help="Clips to list (1-200).")] = 20,
    steer: Annotated[str | None, typer.Option(help="e.g. 'more ocean clips, fewer spinning stars'.")] = None,
) -> None:
    """USER's own ranking now, with every part of each clip's score."""
    result = cli.lab.feed.explain(as_user=as_user, limit=limit, steer=steer)
    cli.emit(result, _explain_text(result))


@feed_app.command("like")
@lab_command
def like(cli: Cli, video_id: VideoArg, as_user: AsOpt,
         undo: Annotated[bool, typer.Option(help="Unlike instead.")] = False) -> None:
    """Like (or --undo: unlike) a video."""
    result = _engage(cli, as_user, {"type": "unlike" if undo else "like", "video_id": video_id})
    cli.emit(result, f"{'unliked' if undo else 'liked'} {video_id}: {result['counts']['likes']} likes")


@feed_app.command("view")
@lab_command
def view(cli: Cli, video_id: VideoArg, as_user: AsOpt,
         watch_ms: Annotated[int, typer.Option(help="How long it was watched, in milliseconds.")]) -> None:
    """Record that USER watched a video for WATCH_MS milliseconds."""
    result = _engage(cli, as_user, {"type": "view", "video_id": video_id, "watch_ms": watch_ms})
    cli.emit(result, f"view recorded: {result['counts']['views']} views")


@feed_app.command("share")
@lab_command
def share(cli: Cli, video_id: VideoArg, as_user: AsOpt) -> None:
    """Record a share of a video."""
    result = _engage(cli, as_user, {"type": "share", "video_id": video_id})
    cli.emit(result, f"share recorded: {result['counts']['shares']} shares")


@feed_app.command("block")
@lab_command
def block(cli: Cli, handle: Annotated[str, typer.Argument(help="The author to hide, e.g. theo.")], as_user: AsOpt,
          undo: Annotated[bool, typer.Option(help="Unblock instead.")] = False) -> None:
    """Hide (or --undo: show again) an author's videos in USER's feed."""
    cli.emit((cli.lab.feed.unblock if undo else cli.lab.feed.block)(as_user=as_user, handle=handle))


@feed_app.command("sync")
@lab_command
def sync(cli: Cli) -> None:
    """Mirror new videos, embed their prompts and fold waiting engagement into the ranking (operator)."""
    cli.emit(cli.lab.feed.sync())


@feed_app.command("rebuild")
@lab_command
def rebuild(cli: Cli) -> None:
    """Recompute feed aggregates and taste vectors from the event log (operator)."""
    cli.emit(cli.lab.feed.rebuild())
