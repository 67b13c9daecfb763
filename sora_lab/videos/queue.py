"""Generation jobs of this process: reserved against the daily limit, run one at a time, polled for progress.

The daily limit (`LabSettings.daily_generation_limit`, per user and UTC day) counts finished
generations today plus the user's jobs still waiting or running, and a job is counted the moment
it is reserved, so parallel requests cannot overshoot. Jobs live in memory; the CLI (rich) and
notebooks (tqdm) poll `videos.job` for stage and progress.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sora_lab.core.errors import LabError, LimitExceeded, NotFound, PolicyViolation
from sora_lab.core.ids import utcnow
from sora_lab.core.settings import load_settings
from sora_lab.generate.pipeline import Stage
from sora_lab.videos.requests import GenerationRequest

JOB_RETENTION_S = 3600
"""Finished jobs are kept this long for polling, then dropped."""

Run = Callable[[str, GenerationRequest, Stage], dict]
"""run(actor_id, request, on_stage) -> the new video's public record."""

_STAGE_SPAN = {
    "starting": (0.0, 0.0),
    "model": (0.0, 0.55),
    "motion": (0.55, 0.6),
    "audio": (0.6, 0.68),
    "encode": (0.68, 0.95),
    "sign": (0.95, 0.98),
    "done": (1.0, 1.0),
}
"""Share of the whole job each pipeline stage covers (render_video's on_stage names), for one smooth bar."""


@dataclass
class Job:
    """A generation, queued or running or finished. Lives in memory in the process that owns the lab."""

    job_id: str
    actor_id: str
    request: GenerationRequest
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


class JobQueue:
    """Jobs by id, a worker thread that runs queued ones oldest first, and the blocking path beside it."""

    def __init__(self, store, run: Run):
        self.store = store
        self._run = run
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None

    def run_now(self, actor_id: str, request: GenerationRequest) -> dict:
        """The blocking path (generate/remix): reserved like a queued job, visible in `jobs` while it runs."""
        job = self._reserve(actor_id, request, state="running")
        try:
            return self._execute(job)
        except BaseException as exc:
            job.state, job.error = "failed", _failure(exc)
            raise
        finally:
            job.finished_at = time.time()

    def enqueue(self, actor_id: str, request: GenerationRequest) -> tuple[Job, int]:
        """Queue a job for the worker; the job and how many jobs are waiting, this one included."""
        job = self._reserve(actor_id, request, state="queued")
        with self._lock:
            position = sum(1 for j in self._jobs.values() if j.state == "queued")
            self._ensure_worker()
            self._wakeup.notify()
        return job, position

    def get(self, actor_id: str, job_id: str) -> dict:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.actor_id != actor_id:
                raise NotFound(f"no job {job_id!r} of yours (jobs live until the lab process restarts)")
            return job.public()

    def of(self, actor_id: str) -> list[dict]:
        with self._lock:
            return [j.public() for j in self._jobs.values() if j.actor_id == actor_id]

    def used_today(self, actor_id: str) -> int:
        """Generations finished today (UTC) plus this user's jobs waiting or running."""
        with self._lock:
            return self._used_today(actor_id)

    def _used_today(self, actor_id: str) -> int:
        """`used_today` for a caller that holds the lock."""
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.store.read() as cur:
            done = cur.execute(
                "SELECT count(*) FROM events WHERE user_id = ? AND type = 'generate' AND ts >= ?",
                [actor_id, today],
            ).fetchone()[0]
        pending = sum(1 for j in self._jobs.values() if j.actor_id == actor_id and j.state in ("queued", "running"))
        return int(done) + pending

    def _reserve(self, actor_id: str, request: GenerationRequest, *, state: str) -> Job:
        """Check the daily limit and register the job in one step, so parallel requests cannot overshoot."""
        with self._lock:
            horizon = time.time() - JOB_RETENTION_S
            for stale in [k for k, j in self._jobs.items() if j.finished_at is not None and j.finished_at < horizon]:
                del self._jobs[stale]
            limit = load_settings(self.store).daily_generation_limit
            used = self._used_today(actor_id)
            if used >= limit:
                raise LimitExceeded(
                    f"daily generation limit reached ({used}/{limit} today, UTC, running jobs included); try again "
                    "tomorrow or ask the operator to raise daily_generation_limit (admin.update_settings)"
                )
            job = Job(job_id="job_" + secrets.token_hex(6), actor_id=actor_id, request=request, state=state)
            self._jobs[job.job_id] = job
            return job

    def _execute(self, job: Job) -> dict:
        """Run one job, keeping its stage and progress current; marks it done and returns its result."""

        def on_stage(stage: str, fraction: float) -> None:
            job.stage, job.progress = stage, _overall_progress(stage, fraction)

        result = self._run(job.actor_id, job.request, on_stage)
        job.result, job.state, job.progress, job.stage = result, "done", 1.0, "done"
        return result

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="sora-lab-generation", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        """The worker thread: oldest queued job first; it ends after a minute with nothing to do."""
        while True:
            with self._lock:
                while not (queued := [j for j in self._jobs.values() if j.state == "queued"]):
                    if not self._wakeup.wait(timeout=60):
                        self._worker = None
                        return
                job = min(queued, key=lambda j: j.created_at)
                job.state, job.stage = "running", "starting"
            try:
                self._execute(job)
            except Exception as exc:  # noqa: BLE001 - a worker must survive one bad job and say why
                job.state, job.error = "failed", _failure(exc)
            job.finished_at = time.time()


def _overall_progress(stage: str, fraction: float) -> float:
    """Stage-local progress -> whole-job progress, for one smooth bar."""
    lo, hi = _STAGE_SPAN.get(stage, (0.0, 1.0))
    return lo + (hi - lo) * max(0.0, min(1.0, fraction))


def _failure(exc: BaseException) -> dict:
    """What a failed job reports: the lab's error code and message (a refusal's reasons too), else the exception."""
    if isinstance(exc, LabError):
        reasons = {"reasons": exc.reasons} if isinstance(exc, PolicyViolation) else {}
        return {"code": exc.code, "message": str(exc)} | reasons
    return {"code": "generation_failed", "message": f"{type(exc).__name__}: {exc}"}
