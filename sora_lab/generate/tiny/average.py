"""Average the weights of several snapshots of one run (a "model soup" along the training path).

Why: the EMA smooths only the last few hundred steps. Once a run has settled, snapshots thousands
of steps apart are different points of one basin; their mean can land nearer its middle and read
wording the model never saw better, at no cost at sampling time (while the loss still falls fast it
lags behind the newest snapshot instead: judge it on held-out prompts). Only snapshots of the same
network shape can be averaged; the result is an ordinary weights folder whose config records what
went into it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from sora_lab.core.errors import InputError
from sora_lab.generate.tiny.model import load_weights, save_weights

SNAPSHOTS = "snapshots"


def snapshot_dir(run_dir: Path, step: int) -> Path:
    """Where `sora-lab model train --snapshot-every` keeps the EMA weights of `step`."""
    return Path(run_dir) / SNAPSHOTS / f"step_{step:07d}"


def average_weights(folders: list[Path], out_dir: Path, sampling: dict | None = None) -> dict:
    """Write the element-wise mean of the weights in `folders` to `out_dir`; returns its config.json contents.

    The newest snapshot (most trained steps) lends its loss history, phases and sampling defaults;
    `sampling` entries (steps, guidance, shift) replace those defaults.
    """
    folders = [Path(f) for f in folders]
    out_dir = Path(out_dir)
    if len(folders) < 2:
        raise InputError(f"give at least two weights folders to average (got {len(folders)})")
    if len({f.resolve() for f in folders}) < len(folders):
        raise InputError("a weights folder is given twice; each snapshot may count once in the average")
    if out_dir.resolve() in {f.resolve() for f in folders}:
        raise InputError(f"--out {out_dir} is one of the folders being averaged; write the average elsewhere "
                         "so no snapshot is overwritten")
    loaded = [load_weights(f) for f in folders]
    first_config = loaded[0][1]["config"]
    for folder, (_, meta) in zip(folders, loaded, strict=True):
        if meta["config"] != first_config:
            raise InputError(f"{folder} has a different network ({json.dumps(meta['config'])}) from {folders[0]} "
                             f"({json.dumps(first_config)}); only snapshots of one run can be averaged")
    newest = max(range(len(loaded)), key=lambda i: loaded[i][1].get("trained_steps") or 0)
    model, meta = loaded[newest]
    states = [m.state_dict() for m, _ in loaded]
    with torch.no_grad():
        mean = {key: torch.stack([s[key].float() for s in states]).mean(0).to(states[0][key].dtype)
                for key in states[0]}
    model.load_state_dict(mean)
    extra = {k: v for k, v in meta.items() if k != "config"}
    extra["sampling"] = {**extra.get("sampling", {}), **(sampling or {})}
    # folder names, not paths: weights travel (into the repo, to other machines) and paths would not mean anything there
    extra["averaged_from"] = [{"folder": Path(f).name, "trained_steps": m.get("trained_steps")}
                              for f, (_, m) in zip(folders, loaded, strict=True)]
    save_weights(model, out_dir, extra)
    return {"config": first_config, **extra}
