"""The videos table: a row as a dict, its public form, who may change it, and a new video's row + events.

Who may see a video is the one visibility rule in sora_lab.consent.visibility.

A row refers to finished files only: the runner moves the files into place before `insert`, and
`forget` undoes an insert whose generation failed at a later step.
"""

from __future__ import annotations

import json
from pathlib import Path

from sora_lab import provenance
from sora_lab.accounts.service import handle_of
from sora_lab.core.errors import Forbidden, InputError, NotFound
from sora_lab.core.home import media_dir
from sora_lab.core.ids import iso_utc, utcnow
from sora_lab.generate.pipeline import RenderedVideo
from sora_lab.provenance import registry
from sora_lab.store.events import append_event
from sora_lab.videos.requests import GenerationRequest

VIDEO_COLUMNS = (
    "video_id, author_id, prompt, seed, backend, model, duration_ms, width, height, media_path, "
    "poster_path, provenance, status, parent_id, created_at, published_at"
)
_COLUMN_NAMES = [c.strip() for c in VIDEO_COLUMNS.split(",")]


class VideoRecords:
    """Reads and writes of video rows over the store, with media paths resolved under the lab's home."""

    def __init__(self, store, home: Path):
        self.store = store
        self.home = Path(home)

    def file(self, relative: str) -> Path:
        """A stored media path (e.g. 'videos/<id>.mp4') as a file under the media folder."""
        return media_dir(self.home) / relative

    def row(self, video_id: str) -> dict:
        """The stored row with its cameo ids, whatever its status; NotFound when there is none."""
        if not isinstance(video_id, str) or not video_id:
            raise InputError("video_id: give the id shown by `sora-lab videos` or returned by generate")
        with self.store.read() as cur:
            row = cur.execute(f"SELECT {VIDEO_COLUMNS} FROM videos WHERE video_id = ?", [video_id]).fetchone()
            cameo_ids = [
                r[0] for r in cur.execute("SELECT cameo_id FROM video_cameos WHERE video_id = ?", [video_id]).fetchall()
            ]
        if row is None:
            raise NotFound(f"no video {video_id!r}")
        return dict(zip(_COLUMN_NAMES, row, strict=True)) | {"cameo_ids": cameo_ids}

    def public(self, record: dict) -> dict:
        """What callers get back: the row with the author's handle, file paths, seconds and ISO times."""
        prov = record.get("provenance")
        prov = json.loads(prov) if isinstance(prov, str) else (prov or {})
        return {
            "video_id": record["video_id"],
            "author_id": record["author_id"],
            "author": self.handle(record["author_id"]),
            "prompt": record["prompt"],
            "seed": record["seed"],
            "backend": record["backend"],
            "model": record["model"],
            "duration": record["duration_ms"] / 1000,
            "duration_ms": record["duration_ms"],
            "width": record["width"],
            "height": record["height"],
            "status": record["status"],
            "parent_id": record["parent_id"],
            "media_path": record["media_path"],
            "poster_path": record["poster_path"],
            "path": str(self.file(record["media_path"])) if record["status"] != "removed" else None,
            "poster": str(self.file(record["poster_path"])) if record["poster_path"] else None,
            "cameo_ids": record["cameo_ids"],
            "created_at": iso_utc(record["created_at"]),
            "published_at": iso_utc(record["published_at"]),
            "provenance": prov,
        }

    def handle(self, user_id: str) -> str:
        return handle_of(self.store, user_id)

    def owned(self, video_id: str, actor_id: str, *, admin_ok: bool = False) -> dict:
        """The row of a video `actor_id` may change (the author, or the operator where admin_ok)."""
        record = self.row(video_id)
        if record["status"] == "removed":
            raise NotFound(f"video {video_id} was deleted")
        if record["author_id"] != actor_id and not (admin_ok and self._is_admin(actor_id)):
            raise Forbidden(f"video {video_id} belongs to someone else; only its author can change it")
        return record

    def insert(
        self,
        actor_id: str,
        request: GenerationRequest,
        rendered: RenderedVideo,
        *,
        media_path: str,
        poster_path: str,
        cameo_ids: list[str],
        decision: dict,
    ) -> None:
        """The new video's row and its events (generate; remix when it has a parent; publish unless a draft)."""
        now = utcnow()
        status = "draft" if request.draft else "published"
        prov = {
            "c2pa": True,
            "generator": rendered.model_id,
            "prompt_sha256": provenance.prompt_sha256(request.prompt),
            "parent_video_id": request.parent_id,
            "cameo_ids": cameo_ids,
            "policy_instructions": decision.get("instructions") or [],
            "timings": rendered.timings,
            "clip": rendered.clip_meta,
            "fps": rendered.fps,
            "n_frames": rendered.n_frames,
            "watermark_key": rendered.mark_key,  # also in the manifest's soft binding
        }
        row = [
            rendered.video_id,
            actor_id,
            request.prompt,
            rendered.seed,
            rendered.backend,
            rendered.model_id,
            round(rendered.seconds * 1000),
            rendered.width,
            rendered.height,
            media_path,
            poster_path,
            json.dumps(prov, default=str),
            status,
            request.parent_id,
            now,
            now if status == "published" else None,
        ]
        props = {
            "backend": rendered.backend,
            "model": rendered.model_id,
            "seed": rendered.seed,
            "seconds": rendered.seconds,
            "draft": request.draft,
            "cameo_ids": cameo_ids,
            "total_s": rendered.timings.get("total"),
        }
        video_id = rendered.video_id
        with self.store.write() as cur:
            region = cur.execute("SELECT region FROM users WHERE user_id = ?", [actor_id]).fetchone()[0]
            placeholders = ", ".join("?" * len(_COLUMN_NAMES))
            cur.execute(f"INSERT INTO videos ({VIDEO_COLUMNS}) VALUES ({placeholders})", row)
            if rendered.fingerprint is not None:  # what `trace` finds copies by (sora_lab.provenance.registry)
                registry.save(cur, video_id, rendered.mark_key, rendered.fingerprint)
            append_event(cur, now, actor_id, "generate", video_id=video_id, region=region, props=props)
            if request.parent_id:
                append_event(cur, now, actor_id, "remix", video_id=video_id, target_id=request.parent_id, region=region)
            if status == "published":
                append_event(cur, now, actor_id, "publish", video_id=video_id, region=region)

    def forget(self, video_id: str) -> None:
        """Undo `insert` (and any cameo links) when a later step of the same generation fails."""
        with self.store.write() as cur:
            registry.forget(cur, video_id)
            cur.execute("DELETE FROM video_cameos WHERE video_id = ?", [video_id])
            cur.execute(
                "DELETE FROM events WHERE video_id = ? AND type IN ('generate', 'remix', 'publish')", [video_id]
            )
            cur.execute("DELETE FROM videos WHERE video_id = ?", [video_id])

    def _is_admin(self, actor_id: str) -> bool:
        with self.store.read() as cur:
            row = cur.execute("SELECT is_admin FROM users WHERE user_id = ?", [actor_id]).fetchone()
        return bool(row and row[0])
