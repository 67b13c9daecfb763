"""Videos: generate, remix, submit and poll jobs, publish, unpublish, delete, look up, verify.

Every read (get, list_mine, verify, a remix's parent) answers through the one visibility rule
(sora_lab.consent.visibility): drafts only to their author, nothing deleted, nothing whose cameo
consent was withdrawn; whatever is hidden is "not found".

The `videos.*` operations, composed from the parts that do the work: `requests` checks what
callers send, `queue` holds jobs and the daily limit, `runner` makes one clip, `records` reads
and writes rows. Every generation and every publish goes through the prompt policy (prompt
rules, rights holders, cameo consent); a refusal raises PolicyViolation with the policy's reasons.
"""

from __future__ import annotations

from pathlib import Path

from sora_lab import provenance
from sora_lab.consent.visibility import require_visible, visible_sql
from sora_lab.core.errors import InputError
from sora_lab.core.ids import utcnow
from sora_lab.core.settings import load_settings
from sora_lab.store.events import append_event
from sora_lab.videos.queue import JobQueue
from sora_lab.videos.records import VideoRecords
from sora_lab.videos.requests import GenerationRequest, clean_request, enforce_policy, remix_request
from sora_lab.videos.runner import GenerationRunner
from sora_lab.videos.sweeps import Sweeps


class VideoService:
    """The `videos.*` operations over the store and media folder; asks `policy` and `cameos` about consent."""

    def __init__(self, store, home: Path, *, policy, cameos, executor=None):
        """executor: where renders run (sora_lab.videos.executors); default worker threads in this process.
        Opening the service recovers jobs a dead process left running and cleans its staging files."""
        self.store = store
        self.policy = policy
        self.records = VideoRecords(store, home)
        self.runner = GenerationRunner(store, home, policy=policy, cameos=cameos, records=self.records,
                                       executor=executor)
        self.queue = JobQueue(store, run=self.runner.run, slots=self.runner.executor.slots)
        self.recovered = self.queue.recover()
        self.sweeps = Sweeps(store, self.queue, policy)

    # --- generation ----------------------------------------------------------------------
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
        request = clean_request(
            prompt=prompt,
            seconds=seconds,
            seed=seed,
            cameos=cameos,
            backend=backend,
            model=model,
            draft=draft,
            options=options,
        )
        return self.queue.run_now(actor_id, request)

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
        request = self._remix_request(
            actor_id, video_id, prompt=prompt, seed=seed, seconds=seconds, cameos=cameos, draft=draft
        )
        return self.queue.run_now(actor_id, request)

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
            request = self._remix_request(
                actor_id, remix_of, prompt=prompt, seed=seed, seconds=seconds, cameos=cameos, draft=draft,
                options=options,
            )
        else:
            request = clean_request(
                prompt=prompt,
                seconds=seconds,
                seed=seed,
                cameos=cameos,
                backend=backend,
                model=model,
                draft=draft,
                options=options,
            )
        enforce_policy(self.policy, prompt=request.prompt, actor_id=actor_id, cameos=request.cameos)  # refuse early
        job_id, position = self.queue.enqueue(actor_id, request)
        return {"job_id": job_id, "position": position, "seed": request.seed}

    def job(self, *, actor_id: str, job_id: str) -> dict:
        """State, stage and progress (0..1) of one of your jobs; `result` once done. Survives restarts."""
        return self.queue.get(actor_id, job_id)

    def jobs(self, *, actor_id: str, all: bool = False) -> list[dict]:  # noqa: A002 - the CLI's --all
        """Your jobs, newest first: waiting, running and ended in the last day; every one with all=True."""
        return self.queue.of(actor_id, everything=bool(all))

    def cancel_job(self, *, actor_id: str, job_id: str) -> dict:
        """Cancel one of your jobs: a queued one at once, a running one at its next stage."""
        return self.queue.cancel(actor_id, job_id)

    def resume(self) -> dict:
        """Start the workers on jobs left queued (the server calls this at start-up); what recovery found."""
        return self.recovered | {"queued": self.queue.start()}

    def sweep(
        self,
        *,
        actor_id: str,
        prompts: list[str],
        seeds: list[int],
        options: dict | None = None,
        seconds: float = 10.0,
        backend: str = "tiny",
        model: str | None = None,
    ) -> dict:
        """Queue prompts x seeds x every option's values as drafts; poll `sweep_result` for each cell's figures."""
        return self.sweeps.start(actor_id, prompts=prompts, seeds=seeds, options=options, seconds=seconds,
                                 backend=backend, model=model)

    def sweep_result(self, *, actor_id: str, sweep_id: str, order_by: str = "cell") -> dict:
        """A sweep's cells: prompt, seed, settings, state, clip, wall time and (tiny model) colour, shape, motion."""
        return self.sweeps.get(actor_id, sweep_id, order_by=order_by)

    def limits(self, *, actor_id: str) -> dict:
        limit = load_settings(self.store).daily_generation_limit
        used = self.queue.used_today(actor_id)
        return {"daily_limit": limit, "used_today": used, "left_today": max(0, limit - used)}

    def _remix_request(self, actor_id: str, video_id: str, **fields) -> GenerationRequest:
        """A remix's parent must be visible to the remixer now (the one rule, cameo consent included)."""
        return remix_request(self._visible(video_id, actor_id), **fields)

    # --- lifecycle -------------------------------------------------------------------------
    def publish(self, *, actor_id: str, video_id: str) -> dict:
        """Make your draft visible in the feed; the policy (cameo consent included) is checked again."""
        record = self.records.owned(video_id, actor_id)
        if record["status"] == "published":
            return self.records.public(record)
        with self.store.read() as cur:
            handles = [
                r[0]
                for r in cur.execute(
                    "SELECT c.handle FROM video_cameos v JOIN cameos c USING (cameo_id) WHERE v.video_id = ?",
                    [video_id],
                ).fetchall()
            ]
        enforce_policy(self.policy, prompt=record["prompt"], actor_id=actor_id, cameos=handles)
        now = utcnow()
        with self.store.write() as cur:
            cur.execute("UPDATE videos SET status = 'published', published_at = ? WHERE video_id = ?", [now, video_id])
            append_event(cur, now, actor_id, "publish", video_id=video_id)
        return self.records.public(self.records.row(video_id))

    def unpublish(self, *, actor_id: str, video_id: str) -> dict:
        """Back to drafts: out of the feed, still yours."""
        self.records.owned(video_id, actor_id, admin_ok=True)
        with self.store.write() as cur:
            cur.execute("UPDATE videos SET status = 'draft', published_at = NULL WHERE video_id = ?", [video_id])
        return self.records.public(self.records.row(video_id))

    def delete(self, *, actor_id: str, video_id: str) -> dict:
        """Remove the files; the row stays as 'removed' so remix lineage and metrics keep their ids."""
        record = self.records.owned(video_id, actor_id, admin_ok=True)
        now = utcnow()
        with self.store.write() as cur:
            cur.execute("UPDATE videos SET status = 'removed', published_at = NULL WHERE video_id = ?", [video_id])
            append_event(cur, now, actor_id, "delete", video_id=video_id)
        for relative in (record["media_path"], record["poster_path"]):
            if relative:
                self.records.file(relative).unlink(missing_ok=True)
        return {"video_id": video_id, "status": "removed"}

    # --- reading ---------------------------------------------------------------------------
    def get(self, *, video_id: str, actor_id: str | None = None) -> dict:
        return self.records.public(self._visible(video_id, actor_id))

    def list_mine(self, *, actor_id: str, status: str | None = None, limit: int = 50) -> list[dict]:
        """Your videos, newest first; status 'draft' or 'published' filters (removed ones are hidden)."""
        if status is not None and status not in ("draft", "published"):
            raise InputError("status: use 'draft', 'published' or leave it out for both")
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            raise InputError("limit: give an integer between 1 and 500")
        sql = (f"SELECT v.video_id FROM videos v, (SELECT ?::VARCHAR AS uid) me "
               f"WHERE v.author_id = me.uid AND {visible_sql('v', 'me.uid')}")  # hidden: revoked cameo consent
        params: list = [actor_id]
        if status:
            sql += " AND v.status = ?"
            params.append(status)
        sql += " ORDER BY v.created_at DESC, v.video_id LIMIT ?"
        with self.store.read() as cur:
            ids = [r[0] for r in cur.execute(sql, params + [limit]).fetchall()]
        return [self.records.public(self.records.row(v)) for v in ids]

    def verify(self, *, video_id: str, actor_id: str | None = None) -> dict:
        """C2PA check of a stored video's file (what `sora-lab verify FILE` does for any file)."""
        return provenance.verify(self.records.file(self._visible(video_id, actor_id)["media_path"]))

    def _visible(self, video_id: str, actor_id: str | None) -> dict:
        """The row of a video `actor_id` may see now (sora_lab.consent.visibility); NotFound otherwise."""
        if not isinstance(video_id, str) or not video_id:
            raise InputError("video_id: give the id shown by `sora-lab videos` or returned by generate")
        require_visible(self.store, actor_id, video_id)
        return self.records.row(video_id)
