"""Where a render runs: worker threads in this process (the default) or Ray actors that keep the backend loaded.

Both take a `RenderSpec` (everything the render needs, picklable: no signing key, no database) and
give back an `UnsignedRender` in the caller's staging folder; the lab then signs, fingerprints
and stores it exactly the same way (sora_lab.videos.runner). An executor has `slots`: how many
renders may run at once (the job queue starts one worker thread per slot).

On Ray, each actor holds a `Renderer` (one backend per name, folder and options, loaded once) and
asks for one GPU where the cluster has them. The MP4 and poster come back through Ray's object
store, or through a shared folder when one is given (every node must see it at the same path).
A dead actor is restarted by Ray; the job it was rendering raises `WorkerLost`, which the queue
turns into one more try or a failure — never a lost job.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sora_lab.core.errors import LabError
from sora_lab.generate.backends import load_backend
from sora_lab.generate.base import Backend
from sora_lab.generate.pipeline import Stage, UnsignedRender, render_unsigned


class Cancelled(LabError):
    """The job was cancelled while it ran; its files are removed."""

    code = "cancelled"


class WorkerLost(LabError):
    """The process rendering the job died (a Ray worker killed, a node lost)."""

    code = "worker_lost"


@dataclass(frozen=True)
class RenderSpec:
    """One render, as it travels to an executor: what to render and the watermark the lab chose for it."""

    backend: str
    model: str | None
    options: dict
    prompt: str
    seconds: float
    seed: int
    creator: str
    mark_secret: bytes
    mark_key: int
    reference: np.ndarray | None = None
    measure: bool = False


class Renderer:
    """Loaded backends, kept (loading a model costs seconds); one render at a time (the model and CPU are shared)."""

    def __init__(self):
        self._backends: dict[tuple, Backend] = {}
        self._lock = threading.Lock()

    def backend(self, spec: RenderSpec) -> Backend:
        folder = str(Path(spec.model).expanduser().resolve()) if spec.model else None
        key = (spec.backend, folder, json.dumps(spec.options, sort_keys=True))
        if key not in self._backends:
            self._backends[key] = load_backend(spec.backend, folder, **spec.options)
        return self._backends[key]

    def render(self, spec: RenderSpec, staging: Path, on_stage: Stage | None = None) -> UnsignedRender:
        with self._lock:
            return render_unsigned(
                self.backend(spec), prompt=spec.prompt, seconds=spec.seconds, seed=spec.seed, creator=spec.creator,
                staging=staging, mark_secret=spec.mark_secret, mark_key=spec.mark_key, reference=spec.reference,
                on_stage=on_stage, measure=spec.measure,
            )


class ThreadExecutor:
    """Renders in the calling thread of this process, one at a time."""

    slots = 1
    name = "threads"

    def __init__(self):
        self.renderer = Renderer()

    def render(self, spec: RenderSpec, staging: Path, on_stage: Stage, slot: int = 0) -> UnsignedRender:
        return self.renderer.render(spec, staging, on_stage)

    def close(self) -> None:
        pass


class RenderActor:
    """The Ray actor: a Renderer in its own process; returns the files as bytes, or leaves them in `shared`."""

    def __init__(self, shared: str | None = None):
        self.renderer = Renderer()
        self.shared = Path(shared) if shared else None

    def pid(self) -> int:
        import os

        return os.getpid()

    def render(self, spec: RenderSpec) -> tuple[UnsignedRender, bytes | None, bytes | None]:
        root = self.shared or Path(tempfile.gettempdir())
        staging = root / f"sora-lab-render-{secrets.token_hex(8)}"
        try:
            unsigned = self.renderer.render(spec, staging)
            if self.shared is not None:  # the lab reads the files where they are
                return unsigned, None, None
            return unsigned, unsigned.mp4_path.read_bytes(), unsigned.poster_path.read_bytes()
        finally:
            if self.shared is None:
                shutil.rmtree(staging, ignore_errors=True)


class RayExecutor:
    """One `RenderActor` per slot on a Ray cluster: `address` 'auto' joins the running cluster (or starts a local
    one), 'local' always starts a local one, anything else is a cluster address (ray://host:10001, host:6379)."""

    name = "ray"

    def __init__(self, address: str = "auto", *, actors: int | None = None, shared: Path | None = None,
                 num_cpus: int | None = None):
        import ray

        if not ray.is_initialized():
            if address in ("auto", "local"):
                ray.init(address="local" if address == "local" else None, num_cpus=num_cpus,
                         include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self.slots = int(actors or gpus or max(1, int(resources.get("CPU", 1))))
        self.shared = Path(shared).resolve() if shared else None
        per_actor = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        actor_class = ray.remote(max_restarts=-1, max_task_retries=0, **per_actor)(RenderActor)
        self.actors = [actor_class.remote(str(self.shared) if self.shared else None) for _ in range(self.slots)]
        self._ray = ray

    def render(self, spec: RenderSpec, staging: Path, on_stage: Stage, slot: int = 0) -> UnsignedRender:
        on_stage("model", 0.0)
        try:
            unsigned, mp4, poster = self._ray.get(self.actors[slot % self.slots].render.remote(spec))
        except (self._ray.exceptions.RayActorError, self._ray.exceptions.WorkerCrashedError,
                self._ray.exceptions.ActorUnavailableError) as exc:
            raise WorkerLost(f"Ray actor {slot} died: {type(exc).__name__}") from None
        staging.mkdir(parents=True, exist_ok=True)
        mp4_path, poster_path = staging / unsigned.mp4_path.name, staging / unsigned.poster_path.name
        if mp4 is None:  # through the shared folder
            shutil.move(unsigned.mp4_path, mp4_path)
            shutil.move(unsigned.poster_path, poster_path)
            shutil.rmtree(unsigned.mp4_path.parent, ignore_errors=True)
        else:
            mp4_path.write_bytes(mp4)
            poster_path.write_bytes(poster)
        on_stage("encode", 1.0)
        return replace(unsigned, mp4_path=mp4_path, poster_path=poster_path)

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors = []
