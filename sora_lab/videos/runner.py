"""One generation, end to end: policy -> cameo references -> render -> output check -> files -> row -> cameo use.

Files first, row second: the pipeline writes into media/.staging/, the finished files are renamed
to media/videos/<id>.mp4 and media/posters/<id>.jpg, and only then the row is inserted. Each step
that leaves something behind registers its undo, so any failure or interrupt leaves no row and no
partial file. The render may run elsewhere (sora_lab.videos.executors); the rest runs here.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sora_lab import provenance
from sora_lab.core.errors import LabError
from sora_lab.core.home import media_dir
from sora_lab.generate.pipeline import RenderedVideo, Stage, sign_render
from sora_lab.provenance import invisible, registry
from sora_lab.videos.executors import RenderSpec, ThreadExecutor
from sora_lab.videos.records import VideoRecords
from sora_lab.videos.requests import GenerationRequest, enforce_policy


class GenerationRunner:
    """Runs checked requests; asks `policy` and `cameos` about consent before and after rendering.

    The render itself goes to `executor` (threads here, or Ray actors: sora_lab.videos.executors);
    signing, the files and the row stay here, because this process owns the key and the database.
    """

    def __init__(self, store, home: Path, *, policy, cameos, records: VideoRecords, executor=None):
        self.store = store
        self.home = Path(home)
        self.policy = policy
        self.cameos = cameos
        self.records = records
        self.executor = executor or ThreadExecutor()
        self._staging_root = media_dir(self.home) / ".staging"
        self.clean_staging()

    def clean_staging(self) -> None:
        """Leftovers of a killed process; called when the lab opens, before any job runs."""
        shutil.rmtree(self._staging_root, ignore_errors=True)

    def run(self, actor_id: str, request: GenerationRequest, on_stage: Stage | None = None, slot: int = 0,
            measure: bool = False) -> dict:
        """Generate one clip for `actor_id`; the new video's public record with its timings and sound events
        (and, with `measure`, the tiny evaluator's reading of it)."""
        report = on_stage or (lambda stage, fraction: None)
        # 1. Policy, asked again now: consent may have changed while the job waited in the queue.
        decision = enforce_policy(self.policy, prompt=request.prompt, actor_id=actor_id, cameos=request.cameos)

        # 2. Cameo references: the cameo service re-checks consent for each and hands over its image.
        references = self._references(actor_id, request.cameos, decision.get("cameo_ids") or [])
        cameo_ids = [cameo_id for cameo_id, _ in references]
        creator = self.records.handle(actor_id)
        identity = provenance.ensure_signing_identity(self.home)
        spec = RenderSpec(
            backend=request.backend, model=request.model, options=request.options, prompt=request.prompt,
            seconds=request.seconds, seed=request.seed, creator=creator,
            mark_secret=invisible.secret_from_key_file(identity.key_path.read_bytes()),
            mark_key=registry.new_mark_key(self.store), reference=references[0][1] if references else None,
            measure=measure,
        )

        with self._staging() as staging, ExitStack() as undo:
            # 3. Render (threads or Ray): the watermarked, unsigned MP4 and its poster, in the staging folder.
            unsigned = self.executor.render(spec, staging, report, slot)

            # 4. Sign here: the C2PA manifest, whose hash names the clip.
            rendered = sign_render(unsigned, identity=identity, prompt=request.prompt, creator=creator,
                                   parent_video_id=request.parent_id, on_stage=report)

            # 5. Output check: every image the backend saw is a cameo this user may still use.
            if references:
                self.cameos.verify_output_references(actor_id=actor_id, references=[image for _, image in references])

            # 6. Files into place (files first); each is removed again if a later step fails.
            media_path, poster_path = self._move_into_place(rendered, undo)

            # 7. Row and events (row second); deleted again if a later step fails.
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

            # 8. Cameo use: links the cameos after re-checking consent, and writes each owner's audit.
            if cameo_ids:
                self.cameos.record_use(actor_id=actor_id, video_id=rendered.video_id, cameo_ids=cameo_ids)
            record = self.records.row(rendered.video_id)
            undo.pop_all()  # every step succeeded: keep the files and the row

        extras = {"timings": rendered.timings, "sound_events": rendered.sound_events}
        return self.records.public(record) | extras | ({"reading": rendered.reading} if measure else {})

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
