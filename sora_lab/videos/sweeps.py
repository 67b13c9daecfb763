"""Prompt sweeps: a grid of prompts x seeds x settings queued as drafts, and each cell's figures side by side.

A sweep is rows of `sweeps` (one per cell) over ordinary jobs, so it runs wherever jobs run (one
worker thread, or fanned out over Ray actors) and survives a restart like them. When a cell's job
ends, the queue writes its clip, wall time and, for the tiny model, the evaluator's colour, shape
and motion reading of the clip (sora_lab.generate.tiny.measure) into its row.
"""

from __future__ import annotations

import itertools
import json

from sora_lab.core.errors import InputError, NotFound
from sora_lab.core.ids import iso_utc, new_id, utcnow
from sora_lab.videos.requests import GenerationRequest, clean_request, enforce_policy

MAX_CELLS = 64
"""The most cells one sweep may queue (prompts x seeds x every setting's values)."""

MAX_VALUES = 16
"""The most values one axis (prompts, seeds, one setting) may list."""

ORDER_BY = ("cell", "wall_s", "seed", "prompt", "color", "shape", "motion")


def grid(prompts: list[str], seeds: list[int], settings: dict[str, list]) -> list[tuple[str, int, dict]]:
    """Every (prompt, seed, settings) combination, prompts outermost, in the order given."""
    if not isinstance(prompts, list) or not prompts or len(prompts) > MAX_VALUES:
        raise InputError(f"prompts: give 1 to {MAX_VALUES} prompts")
    if not isinstance(seeds, list) or not seeds or len(seeds) > MAX_VALUES:
        raise InputError(f"seeds: give 1 to {MAX_VALUES} seeds, e.g. [0, 1, 2, 3]")
    if not isinstance(settings, dict):
        raise InputError("options: give each setting's values as a list, e.g. {'steps': [8, 16]}")
    names = sorted(settings)
    for name in names:
        values = settings[name]
        if not isinstance(values, list) or not values or len(values) > MAX_VALUES:
            raise InputError(f"options.{name}: give 1 to {MAX_VALUES} values as a list, e.g. [8, 16]")
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*(settings[n] for n in names))]
    cells = len(prompts) * len(seeds) * len(combos)
    if cells > MAX_CELLS:
        raise InputError(f"the sweep has {cells} cells; at most {MAX_CELLS}: give fewer prompts, seeds or values")
    return [(p, s, c) for p in prompts for s in seeds for c in combos]


class Sweeps:
    """Queues a sweep's cells through the job queue and reads them back with their jobs' states."""

    def __init__(self, store, queue, policy):
        self.store = store
        self.queue = queue
        self.policy = policy

    def start(self, actor_id: str, *, prompts: list[str], seeds: list[int], options: dict | None = None,
              seconds: float = 10.0, backend: str = "tiny", model: str | None = None) -> dict:
        """Check every cell (request fields, the prompt policy), then queue all of them as drafts at once."""
        cells = grid(prompts, seeds, dict(options or {}))
        requests: list[GenerationRequest] = []
        for prompt, seed, settings in cells:
            requests.append(clean_request(prompt=prompt, seconds=seconds, seed=seed, cameos=None, backend=backend,
                                          model=model, draft=True, options=settings))
        for prompt in dict.fromkeys(r.prompt for r in requests):  # refuse early, once per wording
            enforce_policy(self.policy, prompt=prompt, actor_id=actor_id, cameos=[])
        sweep_id = new_id("sweep")
        job_ids = self.queue.enqueue_many(actor_id, requests, sweep_id)
        now = utcnow()
        rows = [[sweep_id, i, actor_id, job_id, r.prompt, r.seed, json.dumps(r.options, sort_keys=True), now]
                for i, (job_id, r) in enumerate(zip(job_ids, requests, strict=True))]
        with self.store.write() as cur:
            cur.executemany("INSERT INTO sweeps (sweep_id, cell, owner_id, job_id, prompt, seed, settings, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return self.get(actor_id, sweep_id)

    def get(self, actor_id: str, sweep_id: str, *, order_by: str = "cell") -> dict:
        """The sweep's cells with their jobs' state and figures, sorted by `order_by` (wall_s, color, ...)."""
        if order_by not in ORDER_BY:
            raise InputError(f"order_by: choose one of {', '.join(ORDER_BY)}")
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT s.cell, s.job_id, s.prompt, s.seed, s.settings, s.video_id, s.wall_s, s.color, s.shape, "
                "s.motion, j.state, j.stage, j.progress, j.error, s.created_at "
                "FROM sweeps s JOIN jobs j USING (job_id) WHERE s.sweep_id = ? AND s.owner_id = ? "
                f"ORDER BY s.{order_by} NULLS LAST, s.cell",
                [sweep_id, actor_id]).fetchall()
        if not rows:
            raise NotFound(f"no sweep {sweep_id!r} of yours")
        names = ("cell", "job_id", "prompt", "seed", "settings", "video_id", "wall_s", "color", "shape", "motion",
                 "state", "stage", "progress", "error")
        cells = []
        for row in rows:
            cell = dict(zip(names, row[:-1], strict=True))
            cell["settings"] = json.loads(cell["settings"])
            cell["error"] = json.loads(cell["error"]) if cell["error"] else None
            cell["media_path"] = f"videos/{cell['video_id']}.mp4" if cell["video_id"] else None
            cells.append(cell)
        states = [c["state"] for c in cells]
        return {"sweep_id": sweep_id, "created_at": iso_utc(rows[0][-1]), "cells": cells,
                "done": states.count("done"), "failed": states.count("failed") + states.count("cancelled"),
                "pending": sum(s in ("queued", "running") for s in states)}
