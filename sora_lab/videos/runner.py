"""One generation, end to end: policy -> cameo references -> render -> output check -> files -> row -> cameo use.

Files first, row second: the pipeline writes into media/.staging/, the finished files are renamed
to media/videos/<id>.mp4 and media/posters/<id>.jpg, and only then the row is inserted. Each step
that leaves something behind registers its undo, so any failure or interrupt leaves no row and no
partial file. One generation at a time per process: the model and the CPU are shared.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sora_lab import provenance
from sora_lab.core.errors import LabError
from sora_lab.core.home import media_dir
from sora_lab.generate.backends import load_backend
from sora_lab.generate.base import Backend
from sora_lab.generate.pipeline import RenderedVideo, Stage, render_video
from sora_lab.provenance import registry
from sora_lab.videos.records import VideoRecords
from sora_lab.videos.requests import GenerationRequest, enforce_policy


class GenerationRunner:
    """Runs checked requests; asks `policy` and `cameos` about consent before and after rendering."""

    def __init__(self, store, home: Path, *, policy, cameos, records: VideoRecords):
        self.store = store
        self.home = Path(home)
        self.policy = policy
        self.cameos = cameos
        self.records = records
        self._backends: dict[tuple, Backend] = {}
        self._generation_lock = threading.Lock()
        self._staging_root = media_dir(self.home) / ".staging"
        shutil.rmtree(self._staging_root, ignore_errors=True)  # leftovers of a killed process

    def run(self, actor_id: str, request: GenerationRequest, on_stage: Stage | None = None) -> dict:
        """Generate one clip for `actor_id`; the new video's public record with its timings and sound events."""
        # 1. Policy, asked again now: consent may have changed while the job waited in the queue.
        decision = enforce_policy(self.policy, prompt=request.prompt, actor_id=actor_id, cameos=request.cameos)

        # 2. Cameo references: the cameo service re-checks consent for each and hands over its image.
        references = self._references(actor_id, request.cameos, decision.get("cameo_ids") or [])
        cameo_ids = [cameo_id for cameo_id, _ in references]
        creator = self.records.handle(actor_id)

        with self._generation_lock, self._staging() as staging, ExitStack() as undo:
            # 3. Render: one clip, finished and signed, inside the staging folder.
            rendered = render_video(
                self._backend(request),
                prompt=request.prompt,
                seconds=request.seconds,
                seed=request.seed,
                creator=creator,
                staging=staging,
                identity=provenance.ensure_signing_identity(self.home),
                parent_video_id=request.parent_id,
                reference=references[0][1] if references else None,
                on_stage=on_stage,
                mark_key=registry.new_mark_key(self.store),
            )

            # 4. Output check: every image the backend saw is a cameo this user may still use.
            if references:
                self.cameos.verify_output_references(actor_id=actor_id, references=[image for _, image in references])

            # 5. Files into place (files first); each is removed again if a later step fails.
            media_path, poster_path = self._move_into_place(rendered, undo)

            # 6. Row and events (row second); deleted again if a later step fails.
            self.records.insert(
                actor_id,
                request,
                rendered,
                media_path=media_path,
                poster_path=poster_path,
                cameo_ids=cameo_ids,
                decision=decision,
            )
            undo.callback(self.records.forget, rendered.video_id)

            # 7. Cameo use: links the cameos after re-checking consent, and writes each owner's audit.
            if cameo_ids:
                self.cameos.record_use(actor_id=actor_id, video_id=rendered.video_id, cameo_ids=cameo_ids)
            record = self.records.row(rendered.video_id)
            undo.pop_all()  # every step succeeded: keep the files and the row

        return self.records.public(record) | {"timings": rendered.timings, "sound_events": rendered.sound_events}

    def _backend(self, request: GenerationRequest) -> Backend:
        """Loaded backends are kept (loading a model costs seconds); one per name, folder and options."""
        folder = str(Path(request.model).expanduser().resolve()) if request.model else None
        key = (request.backend, folder, json.dumps(request.options, sort_keys=True))
        if key not in self._backends:
            self._backends[key] = load_backend(request.backend, folder, **request.options)
        return self._backends[key]

    def _references(self, actor_id: str, handles: list[str], policy_ids: list[str]) -> list[tuple]:
        """(cameo_id, image) for every cameo in the clip: the ones passed by handle and the ones the
        policy found as @mentions in the prompt. The cameo service re-checks consent and logs the use."""
        handles = list(handles)
        if policy_ids:
            with self.store.read() as cur:
                for cameo_id in policy_ids:
                    row = cur.execute("SELECT handle FROM cameos WHERE cameo_id = ?", [cameo_id]).fetchone()
                    if row and row[0] not in handles:
                        handles.append(row[0])
        refs = [self.cameos.reference_for_generation(handle=h, actor_id=actor_id) for h in handles]
        return list({cameo_id: (cameo_id, image) for cameo_id, image in refs}.values())

    @contextmanager
    def _staging(self) -> Iterator[Path]:
        """A fresh folder for one render, removed afterwards whatever happens."""
        folder = self._staging_root / secrets.token_hex(8)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _move_into_place(self, rendered: RenderedVideo, undo: ExitStack) -> tuple[str, str]:
        """Rename the MP4 and poster to their media paths, never over a stored file (identical bytes)."""
        media_path = f"videos/{rendered.video_id}.mp4"
        poster_path = f"posters/{rendered.video_id}.jpg"
        for src, relative in ((rendered.mp4_path, media_path), (rendered.poster_path, poster_path)):
            dst = self.records.file(relative)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():  # identical bytes already stored: keep the existing file, never overwrite
                raise LabError(f"video {rendered.video_id} already exists (identical file); nothing was added")
            src.replace(dst)
            undo.callback(dst.unlink, missing_ok=True)
        return media_path, poster_path
