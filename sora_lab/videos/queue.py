"""Generation jobs in the lab database: reserved against the daily limit, run by worker threads, polled, cancelled.

A job is a row of `jobs`: queued -> running (stage, progress) -> done | failed | cancelled, with its
request, owner, timestamps, attempt count and error, so it outlives the process. `recover` runs
when the lab opens: a job that was running when its process died is queued again once, then
failed with the reason. Progress is kept in memory as it changes and written to the row at each
new stage (and at most once a second within one), so polling is cheap and a restart loses
little.

The daily limit (`LabSettings.daily_generation_limit`, per user and UTC day) counts finished
generations today plus the user's jobs waiting or running; a job is counted the moment it is
reserved, so parallel requests cannot overshoot.
"""

from __future__ import annotations

import collections
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta

from sora_lab.core.errors import Conflict, InputError, LabError, LimitExceeded, NotFound, PolicyViolation
from sora_lab.core.ids import iso_utc, utcnow
from sora_lab.core.settings import load_settings
from sora_lab.generate.pipeline import Stage
from sora_lab.videos.executors import Cancelled, WorkerLost
from sora_lab.videos.requests import GenerationRequest

MAX_ATTEMPTS = 2
"""A job whose process or render worker died is started again once; the second loss fails it."""

RECENT_S = 24 * 3600
"""`jobs` without --all: what is waiting or running, and what ended in the last day."""

PROGRESS_WRITE_S = 1.0
"""Within one stage, progress reaches the row at most this often (every new stage is written at once)."""

Run = Callable[[str, GenerationRequest, Stage, int, bool], dict]
"""run(actor_id, request, on_stage, slot, measure) -> the new video's public record (+ timings, reading)."""

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

_COLUMNS = "job_id, owner_id, request, state, stage, progress, attempts, result, error, sweep_id, " \
           "created_at, started_at, finished_at"
_ACTIVE = ("queued", "running")


class JobQueue:
    """Jobs in the `jobs` table; `slots` worker threads run queued ones oldest first, each on its own slot of
    the executor (one for local threads, one per actor on Ray)."""

    def __init__(self, store, run: Run, *, slots: int = 1):
        self.store = store
        self._run = run
        self.slots = max(1, int(slots))
        self._lock = threading.Lock()  # limit checks + inserts; claims; the live progress table
        self._wakeup = threading.Condition(self._lock)
        self._workers: dict[int, threading.Thread] = {}
        self._live: dict[str, tuple[str, float, float]] = {}  # job_id -> (stage, progress, last written)
        self._cancel: set[str] = set()
        self._ended = threading.Condition(self._lock)
        self._recent_ends: collections.deque[str] = collections.deque(maxlen=1024)

    # --- submitting -------------------------------------------------------------------------
    def run_now(self, actor_id: str, request: GenerationRequest) -> dict:
        """The blocking path (generate/remix): a job row like any other, run in the caller's thread."""
        job_id = self._reserve(actor_id, [request], state="running")[0]
        return self._execute(job_id, actor_id, request, slot=0, measure=False, raise_errors=True)

    def enqueue(self, actor_id: str, request: GenerationRequest) -> tuple[str, int]:
        """Queue a job for the workers; its id and how many jobs are waiting, this one included."""
        job_id = self._reserve(actor_id, [request], state="queued")[0]
        return job_id, self.start()

    def enqueue_many(self, actor_id: str, requests: list[GenerationRequest], sweep_id: str) -> list[str]:
        """Queue a sweep's cells in one reservation: all of them fit under the daily limit, or none is queued."""
        job_ids = self._reserve(actor_id, requests, state="queued", sweep_id=sweep_id)
        self.start()
        return job_ids

    def start(self) -> int:
        """Make sure every slot has a worker (they end after a minute with nothing to do); how many jobs wait."""
        with self._lock:
            for slot in range(self.slots):
                worker = self._workers.get(slot)
                if worker is None or not worker.is_alive():
                    self._workers[slot] = threading.Thread(
                        target=self._work, args=(slot,), name=f"sora-lab-generation-{slot}", daemon=True)
                    self._workers[slot].start()
            self._wakeup.notify_all()
        with self.store.read() as cur:
            return int(cur.execute("SELECT count(*) FROM jobs WHERE state = 'queued'").fetchone()[0])

    # --- reading ----------------------------------------------------------------------------
    def get(self, actor_id: str, job_id: str) -> dict:
        if not isinstance(job_id, str) or not job_id:
            raise InputError("job_id: give the id printed by `sora-lab generate --detach` or `sora-lab jobs`")
        with self.store.read() as cur:
            row = cur.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ? AND owner_id = ?",
                              [job_id, actor_id]).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id!r} of yours; `sora-lab jobs --all` lists them")
        return self._public(row)

    def of(self, actor_id: str, *, everything: bool = False) -> list[dict]:
        """Your jobs, newest first: those waiting or running and those ended in the last day, or all of them."""
        sql = f"SELECT {_COLUMNS} FROM jobs WHERE owner_id = ?"
        params: list = [actor_id]
        if not everything:
            sql += " AND (state IN ('queued', 'running') OR finished_at >= ?)"
            params.append(utcnow() - timedelta(seconds=RECENT_S))
        with self.store.read() as cur:
            rows = cur.execute(sql + " ORDER BY created_at DESC, job_id", params).fetchall()
        return [self._public(r) for r in rows]

    def used_today(self, actor_id: str) -> int:
        """Generations finished today (UTC) plus this user's jobs waiting or running."""
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self.store.read() as cur:
            done = cur.execute(
                "SELECT count(*) FROM events WHERE user_id = ? AND type = 'generate' AND ts >= ?", [actor_id, today]
            ).fetchone()[0]
            pending = cur.execute(
                "SELECT count(*) FROM jobs WHERE owner_id = ? AND state IN ('queued', 'running')", [actor_id]
            ).fetchone()[0]
        return int(done) + int(pending)

    # --- cancelling and recovering ------------------------------------------------------------
    def cancel(self, actor_id: str, job_id: str) -> dict:
        """A queued job is cancelled at once; a running one stops at its next stage (its files are removed)."""
        job = self.get(actor_id, job_id)
        if job["state"] not in _ACTIVE:
            raise Conflict(f"job {job_id} already ended ({job['state']}); nothing to cancel")
        with self._lock:
            with self.store.write() as cur:
                cur.execute("UPDATE jobs SET state = 'cancelled', stage = 'cancelled', finished_at = ? "
                            "WHERE job_id = ? AND state = 'queued'", [utcnow(), job_id])
            self._cancel.add(job_id)
        return self.get(actor_id, job_id)

    def recover(self) -> dict:
        """At start-up: jobs left running by a dead process are queued again once, then failed with the reason."""
        error = json.dumps({"code": "server_stopped", "message": (
            f"the lab server stopped during this job {MAX_ATTEMPTS} times; it was not finished. "
            "Submit it again (a smaller clip or fewer at once may help)")})
        with self.store.write() as cur:
            failed = cur.execute(
                "UPDATE jobs SET state = 'failed', stage = 'failed', error = ?, finished_at = ? "
                "WHERE state = 'running' AND attempts >= ? RETURNING job_id", [error, utcnow(), MAX_ATTEMPTS]
            ).fetchall()
            requeued = cur.execute(
                "UPDATE jobs SET state = 'queued', stage = 'queued', progress = 0 WHERE state = 'running' "
                "RETURNING job_id").fetchall()
        return {"requeued": [r[0] for r in requeued], "failed": [r[0] for r in failed]}

    # --- running --------------------------------------------------------------------------------
    def _reserve(self, actor_id: str, requests: list[GenerationRequest], *, state: str,
                 sweep_id: str | None = None) -> list[str]:
        """Check the daily limit and insert the rows in one step, so parallel requests cannot overshoot."""
        with self._lock:
            limit = load_settings(self.store).daily_generation_limit
            used = self.used_today(actor_id)
            if used + len(requests) > limit:
                raise LimitExceeded(
                    f"daily generation limit reached ({used}/{limit} today, UTC, running jobs included; "
                    f"this asks for {len(requests)} more); try again tomorrow, ask for fewer, or ask the operator "
                    "to raise daily_generation_limit (admin.update_settings)"
                )
            now = utcnow()
            job_ids = ["job_" + secrets.token_hex(6) for _ in requests]
            rows = [[job_id, actor_id, json.dumps(asdict(request)), state, "starting" if state == "running" else
                     "queued", 1 if state == "running" else 0, sweep_id, now, now if state == "running" else None]
                    for job_id, request in zip(job_ids, requests, strict=True)]
            with self.store.write() as cur:
                cur.executemany("INSERT INTO jobs (job_id, owner_id, request, state, stage, attempts, sweep_id, "
                                "created_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return job_ids

    def _claim(self) -> tuple[str, str, GenerationRequest, bool] | None:
        """The oldest queued job, now running on this worker (caller holds the lock); None when none waits."""
        with self.store.write() as cur:
            row = cur.execute(
                "UPDATE jobs SET state = 'running', stage = 'starting', attempts = attempts + 1, started_at = ? "
                "WHERE job_id = (SELECT job_id FROM jobs WHERE state = 'queued' ORDER BY created_at, job_id LIMIT 1) "
                "RETURNING job_id, owner_id, request, sweep_id", [utcnow()]).fetchone()
        if row is None:
            return None
        return row[0], row[1], GenerationRequest(**json.loads(row[2])), row[3] is not None

    def _work(self, slot: int) -> None:
        """One worker thread: oldest queued job first; it ends after a minute with nothing to do."""
        while True:
            with self._lock:
                while (claimed := self._claim()) is None:
                    if not self._wakeup.wait(timeout=60):
                        self._workers.pop(slot, None)
                        return
            job_id, actor_id, request, measure = claimed
            self._execute(job_id, actor_id, request, slot=slot, measure=measure, raise_errors=False)

    def _execute(self, job_id: str, actor_id: str, request: GenerationRequest, *, slot: int, measure: bool,
                 raise_errors: bool) -> dict:
        """Run one job, keeping its stage and progress current; records how it ended."""

        def on_stage(stage: str, fraction: float) -> None:
            if job_id in self._cancel:
                raise Cancelled(f"job {job_id} was cancelled")
            self._progress(job_id, stage, _overall_progress(stage, fraction))

        started = time.monotonic()
        try:
            result = self._run(actor_id, request, on_stage, slot, measure)
        except WorkerLost as exc:  # the render worker died: queued again unless that was its second try
            self._lost(job_id, exc)
            if raise_errors:
                raise
            return {}
        except BaseException as exc:
            state = "cancelled" if isinstance(exc, Cancelled) else "failed"
            self._end(job_id, state, error=_failure(exc))
            if raise_errors or not isinstance(exc, Exception):
                raise
            return {}
        self._end(job_id, "done", result=result, wall_s=time.monotonic() - started)
        return result

    def _progress(self, job_id: str, stage: str, progress: float) -> None:
        now = time.monotonic()
        with self._lock:
            last_stage, _, written = self._live.get(job_id, ("", 0.0, 0.0))
            self._live[job_id] = (stage, progress, written)
            if stage == last_stage and now - written < PROGRESS_WRITE_S:
                return
            self._live[job_id] = (stage, progress, now)
        with self.store.write() as cur:
            cur.execute("UPDATE jobs SET stage = ?, progress = ? WHERE job_id = ? AND state = 'running'",
                        [stage, progress, job_id])

    def wait_for_end(self, job_id: str, timeout: float) -> bool:
        """Block until job `job_id` ends in this process or `timeout` seconds pass; whether it ended. An
        embedded waiter pauses here between polls, so it sees the end at once, not up to a poll later."""
        with self._lock:
            return self._ended.wait_for(lambda: job_id in self._recent_ends, timeout)

    def _end(self, job_id: str, state: str, *, result: dict | None = None, error: dict | None = None,
             wall_s: float | None = None) -> None:
        """The job's last write; a sweep cell gets the clip's id, wall time and reading in the same transaction."""
        try:
            self._write_end(job_id, state, result, error, wall_s)
        finally:
            with self._lock:
                self._live.pop(job_id, None)
                self._cancel.discard(job_id)
                self._recent_ends.append(job_id)
                self._ended.notify_all()

    def _write_end(self, job_id: str, state: str, result: dict | None, error: dict | None,
                   wall_s: float | None) -> None:
        with self.store.write() as cur:
            cur.execute(
                "UPDATE jobs SET state = ?, stage = ?, progress = ?, result = ?, error = ?, finished_at = ? "
                "WHERE job_id = ?",
                [state, state, 1.0 if state == "done" else 0.0, json.dumps(result, default=str) if result else None,
                 json.dumps(error) if error else None, utcnow(), job_id])
            if result:
                reading = result.get("reading") or {}
                cur.execute("UPDATE sweeps SET video_id = ?, wall_s = ?, color = ?, shape = ?, motion = ? "
                            "WHERE job_id = ?", [result["video_id"], wall_s, reading.get("color"),
                                                 reading.get("shape"), reading.get("motion"), job_id])

    def _lost(self, job_id: str, exc: WorkerLost) -> None:
        with self._lock:
            self._live.pop(job_id, None)
        with self.store.read() as cur:
            attempts = cur.execute("SELECT attempts FROM jobs WHERE job_id = ?", [job_id]).fetchone()[0]
        if attempts >= MAX_ATTEMPTS:
            self._end(job_id, "failed", error={"code": "worker_lost", "message": (
                f"the render worker died {attempts} times during this job ({exc}); submit it again")})
            return
        with self.store.write() as cur:
            cur.execute("UPDATE jobs SET state = 'queued', stage = 'queued', progress = 0 WHERE job_id = ?", [job_id])
        self.start()

    def _public(self, row: tuple) -> dict:
        job = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
        stage, progress = job["stage"], job["progress"]
        if job["state"] == "running" and job["job_id"] in self._live:
            stage, progress, _ = self._live[job["job_id"]]
        request = json.loads(job["request"])
        return {
            "job_id": job["job_id"],
            "state": job["state"],
            "stage": stage,
            "progress": round(float(progress), 4),
            "result": json.loads(job["result"]) if job["result"] else None,
            "error": json.loads(job["error"]) if job["error"] else None,
            "attempts": job["attempts"],
            "prompt": request["prompt"],
            "seed": request["seed"],
            "sweep_id": job["sweep_id"],
            "created_at": iso_utc(job["created_at"]),
            "started_at": iso_utc(job["started_at"]),
            "finished_at": iso_utc(job["finished_at"]),
        }


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
