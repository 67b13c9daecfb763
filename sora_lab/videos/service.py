"""Videos: generate, remix, publish, unpublish, delete, look up, verify — and the generation queue.

Rules this module keeps:
- Every generation and every publish goes through `policy.check` (prompt rules, rights
  holders, cameo consent); a refusal raises PolicyViolation with the policy's reasons.
- Per-user daily limit (`LabSettings.daily_generation_limit`, UTC day), counting finished
  generations today plus the caller's jobs still waiting or running.
- Files first, row second: the pipeline writes into media/.staging/, finished files are renamed
  to media/videos/<id>.mp4 and media/posters/<id>.jpg, and only then the row is inserted. Any
  failure or interrupt removes staging and renamed files, so no row and no partial file remain.
- One generation at a time per process (the model and the CPU are shared); the queue runs jobs
  in a worker thread and reports stage and progress, which the CLI (rich) and notebooks (tqdm)
  poll through `videos.job`.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sora_lab import provenance
from sora_lab.core.errors import Forbidden, InputError, LabError, LimitExceeded, NotFound, PolicyViolation
from sora_lab.core.home import media_dir
from sora_lab.core.ids import iso_utc, utcnow
from sora_lab.core.settings import load_settings
from sora_lab.generate import postprocess
from sora_lab.generate.backends import BACKENDS, load_backend
from sora_lab.generate.pipeline import RenderedVideo, render_video
from sora_lab.store.events import append_event

MAX_PROMPT_CHARS = 2000
MAX_CAMEOS = 3
STATUSES = ("draft", "published", "removed")
JOB_RETENTION_S = 3600

_VIDEO_COLUMNS = (
    "video_id, author_id, prompt, seed, backend, model, duration_ms, width, height, media_path, "
    "poster_path, provenance, status, parent_id, created_at, published_at"
)



@dataclass
class Job:
    """A queued generation. Lives in memory in the process that owns the lab."""

    job_id: str
    actor_id: str
    request: dict
    state: str = "queued"  # queued | running | done | failed
    stage: str = "queued"
    progress: float = 0.0
    result: dict | None = None
    error: dict | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def public(self) -> dict:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "stage": self.stage,
            "progress": round(self.progress, 4),
            "result": self.result,
            "error": self.error,
        }


class VideoService:
    """The `videos.*` operations over the store and media folder; asks `policy` and `cameos` about consent."""

    def __init__(self, store, home: Path, *, policy, cameos):
        self.store = store
        self.home = Path(home)
        self.policy = policy
        self.cameos = cameos
        self._backends: dict[tuple, object] = {}
        self._generation_lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._jobs_lock = threading.Lock()
        self._queue_wakeup = threading.Condition(self._jobs_lock)
        self._worker: threading.Thread | None = None
        shutil.rmtree(self._staging_root(), ignore_errors=True)  # leftovers of a killed process

    # --- paths -------------------------------------------------------------------------
    def _staging_root(self) -> Path:
        return media_dir(self.home) / ".staging"

    def _file(self, relative: str) -> Path:
        return media_dir(self.home) / relative

    # --- checks --------------------------------------------------------------------------
    def _clean_request(
        self,
        *,
        prompt: str,
        seconds: float,
        seed: int | None,
        cameos: list[str] | None,
        backend: str,
        model: str | None,
        draft: bool,
        options: dict | None = None,
    ) -> dict:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError("prompt: describe the clip, e.g. 'a red ball bounces on a navy background'")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InputError(f"prompt: {len(prompt)} characters; keep it under {MAX_PROMPT_CHARS}")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise InputError("seconds: give a number of seconds, e.g. 10")
        postprocess.timeline_for(float(seconds))
        if seed is None:
            seed = secrets.randbelow(2**31)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise InputError("seed: give a non-negative integer, or leave it out for a random one")
        cameos = list(cameos or [])
        if len(cameos) > MAX_CAMEOS or not all(isinstance(c, str) and c.strip() for c in cameos):
            raise InputError(f"cameos: give up to {MAX_CAMEOS} cameo handles, e.g. ['maya']")
        cameos = [c.strip().lstrip("@").lower() for c in cameos]
        if backend not in BACKENDS:
            raise InputError(f"backend: {backend!r} is not known; choose one of {', '.join(BACKENDS)}")
        if model is not None and not isinstance(model, str):
            raise InputError("model: give a folder path as a string")
        options = dict(options or {})
        if options and backend != "pretrained":
            raise InputError("options: only the pretrained backend takes options (steps, width, cpu_offload, ...)")
        if options:
            from dataclasses import fields

            from sora_lab.generate.pretrained import PretrainedOptions

            known = {f.name for f in fields(PretrainedOptions)}
            unknown = sorted(set(options) - known)
            if unknown:
                raise InputError(f"options: unknown {', '.join(unknown)}; known: {', '.join(sorted(known))}")
            PretrainedOptions(**options)  # refuses a bad value, naming the field, before anything is queued
        return {
            "prompt": prompt.strip(),
            "seconds": float(seconds),
            "seed": int(seed),
            "cameos": cameos,
            "backend": backend,
            "model": model,
            "options": options,
            "draft": bool(draft),
        }

    def _policy(self, *, prompt: str, actor_id: str, cameos: list[str]) -> dict:
        decision = self.policy.check(prompt=prompt, actor_id=actor_id, cameos=cameos or None)
        if not decision.get("allowed"):
            reasons = decision.get("reasons") or []
            summary = "; ".join(r.get("message", r.get("code", "")) for r in reasons) or "refused by the prompt policy"
            raise PolicyViolation(f"prompt refused: {summary}", reasons)
        return decision

    def _used_today(self, actor_id: str) -> int:
        """Generations finished today (UTC) plus this user's jobs waiting or running. Call under _jobs_lock."""
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.store.read() as cur:
            done = cur.execute(
                "SELECT count(*) FROM events WHERE user_id = ? AND type = 'generate' AND ts >= ?",
                [actor_id, today],
            ).fetchone()[0]
        pending = sum(1 for j in self._jobs.values() if j.actor_id == actor_id and j.state in ("queued", "running"))
        return int(done) + pending

    def _reserve(self, actor_id: str, request: dict, parent_id: str | None, state: str) -> Job:
        """Check the daily limit and register the job in one step, so parallel requests cannot overshoot."""
        with self._jobs_lock:
            horizon = time.time() - JOB_RETENTION_S  # finished jobs are kept an hour for polling, then dropped
            for stale in [k for k, j in self._jobs.items() if j.finished_at is not None and j.finished_at < horizon]:
                del self._jobs[stale]
            limit = load_settings(self.store).daily_generation_limit
            used = self._used_today(actor_id)
            if used >= limit:
                raise LimitExceeded(
                    f"daily generation limit reached ({used}/{limit} today, UTC, running jobs included); try again "
                    "tomorrow or ask the operator to raise daily_generation_limit (admin.update_settings)"
                )
            job = Job(
                job_id="job_" + secrets.token_hex(6),
                actor_id=actor_id,
                request=request | {"parent_id": parent_id},
                state=state,
            )
            self._jobs[job.job_id] = job
            return job

    def _run_now(self, actor_id: str, request: dict, parent_id: str | None) -> dict:
        """The blocking path (generate/remix): reserved like a queued job, visible in `jobs` while it runs."""
        job = self._reserve(actor_id, request, parent_id, state="running")

        def on_stage(stage: str, fraction: float) -> None:
            job.stage, job.progress = stage, _overall(stage, fraction)

        try:
            result = self._run(actor_id, request, parent_id, on_stage)
        except BaseException as exc:
            job.state, job.error = "failed", {"code": getattr(exc, "code", "generation_failed"), "message": str(exc)}
            raise
        finally:
            job.finished_at = time.time()
        job.result, job.state, job.progress, job.stage = result, "done", 1.0, "done"
        return result

    def _backend(self, name: str, model: str | None, options: dict | None = None):
        """Loaded backends are kept (loading a model costs seconds); one per name, folder and options."""
        folder = str(Path(model).expanduser().resolve()) if model else None
        key = (name, folder, json.dumps(options or {}, sort_keys=True))
        if key not in self._backends:
            self._backends[key] = load_backend(name, folder, **(options or {}))
        return self._backends[key]

    def _handle(self, user_id: str) -> str:
        with self.store.read() as cur:
            row = cur.execute("SELECT handle FROM users WHERE user_id = ?", [user_id]).fetchone()
        if row is None:
            raise NotFound(f"user {user_id!r} does not exist")
        return row[0]

    def _row(self, video_id: str) -> dict:
        if not isinstance(video_id, str) or not video_id:
            raise InputError("video_id: give the id shown by `sora-lab videos` or returned by generate")
        with self.store.read() as cur:
            row = cur.execute(f"SELECT {_VIDEO_COLUMNS} FROM videos WHERE video_id = ?", [video_id]).fetchone()
            cameo_ids = [
                r[0] for r in cur.execute("SELECT cameo_id FROM video_cameos WHERE video_id = ?", [video_id]).fetchall()
            ]
        if row is None:
            raise NotFound(f"no video {video_id!r}")
        names = [c.strip() for c in _VIDEO_COLUMNS.split(",")]
        record = dict(zip(names, row, strict=True))
        record["cameo_ids"] = cameo_ids
        return record

    def _public(self, record: dict) -> dict:
        prov = record.get("provenance")
        prov = json.loads(prov) if isinstance(prov, str) else (prov or {})
        return {
            "video_id": record["video_id"],
            "author_id": record["author_id"],
            "author": self._handle(record["author_id"]),
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
            "path": str(self._file(record["media_path"])) if record["status"] != "removed" else None,
            "poster": str(self._file(record["poster_path"])) if record["poster_path"] else None,
            "cameo_ids": record["cameo_ids"],
            "created_at": iso_utc(record["created_at"]),
            "published_at": iso_utc(record["published_at"]),
            "provenance": prov,
        }

    def _visible_to(self, record: dict, actor_id: str | None) -> bool:
        if record["status"] == "published":
            return True
        if record["status"] == "removed" or actor_id is None:
            return False
        return record["author_id"] == actor_id or self._is_admin(actor_id)

    def _is_admin(self, actor_id: str) -> bool:
        with self.store.read() as cur:
            row = cur.execute("SELECT is_admin FROM users WHERE user_id = ?", [actor_id]).fetchone()
        return bool(row and row[0])

    def _own(self, video_id: str, actor_id: str, *, admin_ok: bool = False) -> dict:
        record = self._row(video_id)
        if record["status"] == "removed":
            raise NotFound(f"video {video_id} was deleted")
        if record["author_id"] != actor_id and not (admin_ok and self._is_admin(actor_id)):
            raise Forbidden(f"video {video_id} belongs to someone else; only its author can change it")
        return record

    # --- the work --------------------------------------------------------------------------
    def _run(self, actor_id: str, request: dict, parent_id: str | None, on_stage=None) -> dict:
        """Policy, references, render, move into place, insert. Holds the generation lock."""
        decision = self._policy(prompt=request["prompt"], actor_id=actor_id, cameos=request["cameos"])
        references = self._references(actor_id, request["cameos"], decision.get("cameo_ids") or [])
        cameo_ids = [cameo_id for cameo_id, _ in references]
        creator = self._handle(actor_id)
        with self._generation_lock:
            backend = self._backend(request["backend"], request["model"], request.get("options"))
            identity = provenance.ensure_signing_identity(self.home)
            staging = self._staging_root() / secrets.token_hex(8)
            moved: list[Path] = []
            try:
                rendered = render_video(
                    backend,
                    prompt=request["prompt"],
                    seconds=request["seconds"],
                    seed=request["seed"],
                    creator=creator,
                    staging=staging,
                    identity=identity,
                    parent_video_id=parent_id,
                    reference=references[0][1] if references else None,
                    on_stage=on_stage,
                )
                if references:  # output check: every image the backend saw is a cameo this user may use now
                    self.cameos.verify_output_references(
                        actor_id=actor_id, references=[image for _, image in references]
                    )
                media_path, poster_path = self._move_into_place(rendered, moved)
                record = self._insert(
                    actor_id, request, parent_id, rendered, media_path, poster_path, cameo_ids, decision
                )
                if cameo_ids:  # links the cameos after re-checking consent, and writes the owner's audit
                    try:
                        self.cameos.record_use(
                            actor_id=actor_id, video_id=rendered.video_id, cameo_ids=cameo_ids
                        )
                    except BaseException:
                        self._forget(rendered.video_id)
                        raise
                record = self._row(rendered.video_id)
            except BaseException:
                for path in moved:
                    path.unlink(missing_ok=True)
                raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return self._public(record) | {"timings": rendered.timings, "sound_events": rendered.sound_events}

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

    def _forget(self, video_id: str) -> None:
        """Undo `_insert` when a later step of the same generation fails (no row may outlive its file)."""
        with self.store.write() as cur:
            cur.execute("DELETE FROM video_cameos WHERE video_id = ?", [video_id])
            cur.execute(
                "DELETE FROM events WHERE video_id = ? AND type IN ('generate', 'remix', 'publish')", [video_id]
            )
            cur.execute("DELETE FROM videos WHERE video_id = ?", [video_id])

    def _move_into_place(self, rendered: RenderedVideo, moved: list[Path]) -> tuple[str, str]:
        media_path = f"videos/{rendered.video_id}.mp4"
        poster_path = f"posters/{rendered.video_id}.jpg"
        for src, relative in ((rendered.mp4_path, media_path), (rendered.poster_path, poster_path)):
            dst = self._file(relative)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():  # identical bytes already stored: keep the existing file, never overwrite
                raise LabError(f"video {rendered.video_id} already exists (identical file); nothing was added")
            src.replace(dst)
            moved.append(dst)
        return media_path, poster_path

    def _insert(
        self, actor_id, request, parent_id, rendered: RenderedVideo, media_path, poster_path, cameo_ids, decision
    ):
        now = utcnow()
        status = "draft" if request["draft"] else "published"
        prov = {
            "c2pa": True,
            "generator": rendered.model_id,
            "prompt_sha256": provenance.prompt_sha256(request["prompt"]),
            "parent_video_id": parent_id,
            "cameo_ids": cameo_ids,
            "policy_instructions": decision.get("instructions") or [],
            "timings": rendered.timings,
            "clip": rendered.clip_meta,
            "fps": rendered.fps,
            "n_frames": rendered.n_frames,
        }
        with self.store.write() as cur:
            region = cur.execute("SELECT region FROM users WHERE user_id = ?", [actor_id]).fetchone()[0]
            cur.execute(
                f"INSERT INTO videos ({_VIDEO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    rendered.video_id,
                    actor_id,
                    request["prompt"],
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
                    parent_id,
                    now,
                    now if status == "published" else None,
                ],
            )
            props = {
                "backend": rendered.backend,
                "model": rendered.model_id,
                "seed": rendered.seed,
                "seconds": rendered.seconds,
                "draft": request["draft"],
                "cameo_ids": cameo_ids,
                "total_s": rendered.timings.get("total"),
            }
            append_event(cur, now, actor_id, "generate", video_id=rendered.video_id, region=region, props=props)
            if parent_id:
                append_event(
                    cur, now, actor_id, "remix", video_id=rendered.video_id, target_id=parent_id, region=region
                )
            if status == "published":
                append_event(cur, now, actor_id, "publish", video_id=rendered.video_id, region=region)
        return self._row(rendered.video_id)

    # --- RPC: generation ------------------------------------------------------------------
    def generate(
        self,
        *,
        actor_id: str,
        prompt: str,
        seconds: float = 10.0,
        seed: int | None = None,
        cameos: list[str] | None = None,
        backend: str = "tiny",
        model: str | None = None,
        draft: bool = False,
        options: dict | None = None,
    ) -> dict:
        """Generate a clip now (blocking). Published unless draft=True.

        model: a folder (pretrained: a diffusers pipeline; tiny: other weights). options: for the
        pretrained backend, PretrainedOptions fields (steps, guidance, width, height, cpu_offload,
        vae_tiling, audio_model, ...).
        """
        request = self._clean_request(
            prompt=prompt,
            seconds=seconds,
            seed=seed,
            cameos=cameos,
            backend=backend,
            model=model,
            draft=draft,
            options=options,
        )
        return self._run_now(actor_id, request, None)

    def remix(
        self,
        *,
        actor_id: str,
        video_id: str,
        prompt: str,
        seed: int | None = None,
        seconds: float | None = None,
        cameos: list[str] | None = None,
        draft: bool = False,
    ) -> dict:
        """A new clip from a new prompt that records `video_id` as its parent (lineage)."""
        request, parent_id = self._remix_request(
            actor_id, video_id=video_id, prompt=prompt, seed=seed, seconds=seconds, cameos=cameos, draft=draft
        )
        return self._run_now(actor_id, request, parent_id)

    def _remix_request(self, actor_id, *, video_id, prompt, seed, seconds, cameos, draft) -> tuple[dict, str]:
        parent = self._row(video_id)
        if not self._visible_to(parent, actor_id):
            raise NotFound(f"no video {video_id!r} you can see; remix a published video or your own draft")
        backend = parent["backend"] if parent["backend"] in BACKENDS else "tiny"
        model = None
        if backend == "pretrained":
            model = (json.loads(parent["provenance"] or "{}").get("clip") or {}).get("folder")
            if model is None:
                backend = "tiny"
        request = self._clean_request(
            prompt=prompt,
            seconds=seconds if seconds is not None else parent["duration_ms"] / 1000,
            seed=seed,
            cameos=cameos,
            backend=backend,
            model=model,
            draft=draft,
        )
        return request, parent["video_id"]

    # --- RPC: queue -------------------------------------------------------------------------
    def submit(
        self,
        *,
        actor_id: str,
        prompt: str,
        seconds: float = 10.0,
        seed: int | None = None,
        cameos: list[str] | None = None,
        backend: str = "tiny",
        model: str | None = None,
        draft: bool = False,
        remix_of: str | None = None,
        options: dict | None = None,
    ) -> dict:
        """Queue a generation (or a remix when remix_of is set); poll `videos.job` for progress."""
        if remix_of:
            request, parent_id = self._remix_request(
                actor_id, video_id=remix_of, prompt=prompt, seed=seed, seconds=seconds, cameos=cameos, draft=draft
            )
        else:
            request = self._clean_request(
                prompt=prompt,
                seconds=seconds,
                seed=seed,
                cameos=cameos,
                backend=backend,
                model=model,
                draft=draft,
                options=options,
            )
            parent_id = None
        self._policy(prompt=request["prompt"], actor_id=actor_id, cameos=request["cameos"])  # refuse early
        job = self._reserve(actor_id, request, parent_id, state="queued")
        with self._jobs_lock:
            position = sum(1 for j in self._jobs.values() if j.state == "queued")
            self._ensure_worker()
            self._queue_wakeup.notify()
        return {"job_id": job.job_id, "position": position, "seed": request["seed"]}

    def job(self, *, actor_id: str, job_id: str) -> dict:
        """State, stage and progress (0..1) of one of your jobs; `result` once done."""
        with self._jobs_lock:
            job = self._jobs.get(job_id)
            if job is None or job.actor_id != actor_id:
                raise NotFound(f"no job {job_id!r} of yours (jobs live until the lab process restarts)")
            return job.public()

    def jobs(self, *, actor_id: str) -> list[dict]:
        with self._jobs_lock:
            return [j.public() for j in self._jobs.values() if j.actor_id == actor_id]

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="sora-lab-generation", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            with self._jobs_lock:
                while not (queued := [j for j in self._jobs.values() if j.state == "queued"]):
                    if not self._queue_wakeup.wait(timeout=60):
                        self._worker = None
                        return
                job = min(queued, key=lambda j: j.created_at)
                job.state, job.stage = "running", "starting"

            def on_stage(stage: str, fraction: float, job=job) -> None:
                job.stage, job.progress = stage, _overall(stage, fraction)

            try:
                request = {k: v for k, v in job.request.items() if k != "parent_id"}
                result = self._run(job.actor_id, request, job.request.get("parent_id"), on_stage)
                job.result, job.state, job.progress, job.stage = result, "done", 1.0, "done"
            except LabError as exc:
                job.error = {"code": exc.code, "message": str(exc)} | (
                    {"reasons": exc.reasons} if isinstance(exc, PolicyViolation) else {}
                )
                job.state = "failed"
            except Exception as exc:  # noqa: BLE001 - a worker must survive one bad job and say why
                job.error = {"code": "generation_failed", "message": f"{type(exc).__name__}: {exc}"}
                job.state = "failed"
            job.finished_at = time.time()

    # --- RPC: lifecycle ----------------------------------------------------------------------
    def publish(self, *, actor_id: str, video_id: str) -> dict:
        """Make your draft visible in the feed; the policy (cameo consent included) is checked again."""
        record = self._own(video_id, actor_id)
        if record["status"] == "published":
            return self._public(record)
        with self.store.read() as cur:
            handles = [
                r[0]
                for r in cur.execute(
                    "SELECT c.handle FROM video_cameos v JOIN cameos c USING (cameo_id) WHERE v.video_id = ?",
                    [video_id],
                ).fetchall()
            ]
        self._policy(prompt=record["prompt"], actor_id=actor_id, cameos=handles)
        now = utcnow()
        with self.store.write() as cur:
            cur.execute("UPDATE videos SET status = 'published', published_at = ? WHERE video_id = ?", [now, video_id])
            append_event(cur, now, actor_id, "publish", video_id=video_id)
        return self._public(self._row(video_id))

    def unpublish(self, *, actor_id: str, video_id: str) -> dict:
        """Back to drafts: out of the feed, still yours."""
        self._own(video_id, actor_id, admin_ok=True)
        with self.store.write() as cur:
            cur.execute("UPDATE videos SET status = 'draft', published_at = NULL WHERE video_id = ?", [video_id])
        return self._public(self._row(video_id))

    def delete(self, *, actor_id: str, video_id: str) -> dict:
        """Remove the files; the row stays as 'removed' so remix lineage and metrics keep their ids."""
        record = self._own(video_id, actor_id, admin_ok=True)
        now = utcnow()
        with self.store.write() as cur:
            cur.execute("UPDATE videos SET status = 'removed', published_at = NULL WHERE video_id = ?", [video_id])
            append_event(cur, now, actor_id, "delete", video_id=video_id)
        for relative in (record["media_path"], record["poster_path"]):
            if relative:
                self._file(relative).unlink(missing_ok=True)
        return {"video_id": video_id, "status": "removed"}

    # --- RPC: reading ------------------------------------------------------------------------
    def get(self, *, video_id: str, actor_id: str | None = None) -> dict:
        record = self._row(video_id)
        if not self._visible_to(record, actor_id):
            raise NotFound(f"no video {video_id!r} you can see")
        return self._public(record)

    def list_mine(self, *, actor_id: str, status: str | None = None, limit: int = 50) -> list[dict]:
        """Your videos, newest first; status 'draft' or 'published' filters (removed ones are hidden)."""
        if status is not None and status not in ("draft", "published"):
            raise InputError("status: use 'draft', 'published' or leave it out for both")
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            raise InputError("limit: give an integer between 1 and 500")
        sql = "SELECT video_id FROM videos WHERE author_id = ? AND status != 'removed'"
        params: list = [actor_id]
        if status:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY created_at DESC, video_id LIMIT ?"
        with self.store.read() as cur:
            ids = [r[0] for r in cur.execute(sql, params + [limit]).fetchall()]
        return [self._public(self._row(v)) for v in ids]

    def limits(self, *, actor_id: str) -> dict:
        limit = load_settings(self.store).daily_generation_limit
        with self._jobs_lock:
            used = self._used_today(actor_id)
        return {"daily_limit": limit, "used_today": used, "left_today": max(0, limit - used)}

    def verify(self, *, video_id: str, actor_id: str | None = None) -> dict:
        """C2PA check of a stored video's file (what `sora-lab verify FILE` does for any file)."""
        record = self._row(video_id)
        if not self._visible_to(record, actor_id):
            raise NotFound(f"no video {video_id!r} you can see")
        return provenance.verify(self._file(record["media_path"]))


_STAGE_SPAN = {
    "starting": (0.0, 0.0),
    "model": (0.0, 0.55),
    "motion": (0.55, 0.6),
    "audio": (0.6, 0.68),
    "encode": (0.68, 0.95),
    "sign": (0.95, 0.98),
    "done": (1.0, 1.0),
}


def _overall(stage: str, fraction: float) -> float:
    """Stage-local progress -> whole-job progress, for one smooth bar."""
    lo, hi = _STAGE_SPAN.get(stage, (0.0, 1.0))
    return lo + (hi - lo) * max(0.0, min(1.0, fraction))
