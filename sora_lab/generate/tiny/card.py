"""Write MODEL_CARD.md and loss_curve.png beside the shipped weights, from measured facts only.

Inputs are the weights' config.json (training steps, seconds, loss history) and the JSON
outputs of `sora-lab model eval --json` and benchmarks/tiny_model.py, so every number in the
card comes from a command someone can re-run. The curve is drawn with OpenCV (no plotting
dependency).

    python -m sora_lab.generate.tiny.card WEIGHTS_DIR --eval grammar=g.json --eval paraphrases=p.json \
        --bench bench.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import numpy as np

from sora_lab.core.home import write_bytes_atomic
from sora_lab.generate.tiny.reading import READER_FILE, READING_SWITCHES, PromptReader
from sora_lab.generate.tiny.sampler import READING_GUIDANCE


def loss_curve_png(history: list[dict], width: int = 640, height: int = 360) -> bytes:
    """A log-scale line chart of the training loss (one point per 50 steps)."""
    img = np.full((height, width, 3), 255, np.uint8)
    if len(history) < 2:
        return cv2.imencode(".png", img)[1].tobytes()
    steps = np.array([h["step"] for h in history], float)
    loss = np.log10(np.array([h["loss"] for h in history], float))
    left, right, top, bottom = 70, 20, 30, 50
    lo, hi = math.floor(loss.min() * 10) / 10, math.ceil(loss.max() * 10) / 10

    def xy(s: float, v: float) -> tuple[int, int]:
        x = left + (s - steps[0]) / max(1.0, steps[-1] - steps[0]) * (width - left - right)
        y = top + (hi - v) / max(1e-6, hi - lo) * (height - top - bottom)
        return int(x), int(y)

    cv2.rectangle(img, (left, top), (width - right, height - bottom), (200, 200, 200), 1)
    for v in np.linspace(lo, hi, 5):
        _, y = xy(steps[0], v)
        cv2.line(img, (left - 4, y), (width - right, y), (230, 230, 230), 1)
        cv2.putText(img, f"{10 ** v:.3f}", (5, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    pts = np.array([xy(s, v) for s, v in zip(steps, loss, strict=True)], np.int32)
    cv2.polylines(img, [pts], False, (200, 80, 30), 2, cv2.LINE_AA)
    cv2.putText(img, "training loss (flow-matching MSE, log scale)", (left, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"step {int(steps[0])} .. {int(steps[-1])}", (left, height - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    return cv2.imencode(".png", img[..., ::-1])[1].tobytes()


def _eval_rows(evals: dict[str, dict]) -> list[str]:
    rows = ["| eval set | n | adherence (95% interval) | colour | shape | motion | background | reference id. (chance) "
            "| s/clip |",
            "|---|---|---|---|---|---|---|---|---|"]

    def acc(r: dict, k: str) -> str:
        a = r.get("per_attribute", {}).get(k)
        return f"{a['accuracy']:.3f}" if a else "–"

    def adherence(r: dict) -> str:
        ci = r.get("adherence_ci95")
        return f"**{r['adherence']:.3f}**" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")

    for name, r in evals.items():
        ref = r.get("reference")
        ref_s = f"{ref['identification']:.3f} ({ref['chance']:.3f})" if ref else "–"
        rows.append(f"| {name} | {r['n']} | {adherence(r)} | {acc(r, 'color')} | {acc(r, 'shape')} | "
                    f"{acc(r, 'motion')} | {acc(r, 'background')} | {ref_s} | {r.get('seconds_per_clip', '–')} |")
    return rows


def _phase_rows(phases: list[dict], last: int | None) -> list[str]:
    """One line per stretch of training with the same batch size, learning rate, wording and device."""
    rows = []
    for i, p in enumerate(phases):
        end = phases[i + 1]["from_step"] if i + 1 < len(phases) else last
        cool = f", lr decaying to 10% over the last {p['cooldown']} steps" if p.get("cooldown") else ""
        extra = p.get("p_extra_wording", 0.0)
        wording = f", {extra:.0%} of caption words from the training-only synonyms" if extra else ""
        start = (f", fine-tuned from the weights folder `{p['init_from']}/` with a fresh optimizer"
                 if "init_from" in p else "")
        rows.append(f"  - steps {p.get('from_step', 0)}-{end}: batch {p.get('batch_size')}, lr {p.get('lr')}{cool}"
                    f"{wording}, on {p.get('device', 'cpu')}{start}")
    return rows


def _weights_line(averaged_from: list[dict] | None) -> str:
    if not averaged_from:
        return "- these are the EMA weights."
    steps = ", ".join(str(a["trained_steps"]) for a in averaged_from)
    return (f"- these are the element-wise mean of the EMA weights at steps {steps} of this run "
            "(`sora-lab model average`); the loss history and phases are the newest snapshot's.")


def _reader_lines(folder: Path) -> list[str]:
    if not (folder / READER_FILE).is_file():
        return []
    fit = PromptReader.load(folder / READER_FILE).fit_settings
    g1, g2 = READING_GUIDANCE
    return [f"- prompt reader (`{READER_FILE}`, `sora-lab model fit-reader`): readouts of MiniLM token states fitted "
            f"on {fit['captions']} training captions (seed {fit['seed']}, {fit['p_extra']:.0%} training-only words); "
            "a prompt with words no training caption uses is also guided toward the core caption it reads, "
            f"v = v_u + {g1:g} (v_prompt - v_u) + {g2:g} (v_reading - v_u) (`--no-reading`: the model alone)",
            "- colour names (`color_names.py`): when such a prompt names its colour only by a name of the xkcd colour "
            "survey (matplotlib's table) whose 3 nearest survey names holding a basic colour term (CIEDE2000 in "
            "CIELAB) all say one world colour, the reading takes that colour (`--no-color-names`: the colour readout "
            "decides)",
            "- motion verbs (`motion_verbs.py`, built from WordNet 3.0): when such a prompt names its motion only by "
            "verbs training lacks whose WordNet senses, or what those are a kind of, are training motion phrases of "
            "one motion (\"surfacing\": rise), the reading takes that motion (`--no-motion-verbs`: the motion readout "
            "decides)",
            "- training words (`trained_words.py`): an attribute such a prompt names outright in training words "
            "(\"blue\", \"left\": a phrase of the tables, or a word several phrases of one value share) takes that "
            "value, whatever the readouts say (`--no-trained-words`: the readouts decide)"]


def write_model_card(folder: Path, evals: dict[str, dict], bench: dict | None = None, notes: str = "") -> Path:
    folder = Path(folder)
    meta = json.loads((folder / "config.json").read_text())
    history = meta.get("history", [])
    write_bytes_atomic(folder / "loss_curve.png", loss_curve_png(history))
    cfg = meta["config"]
    settings = meta.get("settings", {})
    some = history[:: max(1, len(history) // 12)] + ([history[-1]] if history else [])
    seen = set()
    loss_rows = ["| step | loss | train seconds |", "|---|---|---|"]
    for h in some:
        if h["step"] not in seen:
            seen.add(h["step"])
            loss_rows.append(f"| {h['step']} | {h['loss']:.4f} | {h['seconds']} |")
    sampling = meta.get("sampling", {})
    eval_cmds = "\n".join(
        f"    sora-lab model eval --prompts {r.get('prompts', f'data/tiny_eval/{n}.jsonl')} --json"
        + (" --no-reading" if r.get("prompt_reader") is False else "")
        + "".join(f" --no-{switch.replace('_', '-')}" for switch in READING_SWITCHES
                  if r.get("prompt_reader") and r.get(switch) is False)
        for n, r in evals.items())
    lines = [
        "# sora-lab tiny-wan — a text-to-video model trained on a procedural world",
        "",
        "A ~1.3 M-parameter `diffusers.WanTransformer3DModel` that denoises 16 frames of 20 x 36 pixels (W x H, 9:16)",
        "in pixel space with flow matching, conditioned on MiniLM (all-MiniLM-L6-v2, offline) token states and on an",
        "optional 8 x 8 reference sprite (cameos). Trained from scratch by this project; no external data or weights.",
        "",
        "## Data",
        "Procedural world (`sora_lab/generate/tiny/world.py`): 8 colours x 4 shapes x 8 motions on 5 backgrounds,",
        "one or two objects per clip (20% two), 15% of clips show a procedural face sprite given as the reference.",
        "Captions come from a grammar with synonyms (`captions.py`) and, in phases that say so below, a wider",
        "training-only wording (`synonyms.py`) that shares no word with the paraphrase set. 40 colour x shape x",
        "motion triples are held out of training entirely; `data/tiny_eval/grammar.jsonl` is those 40 triples x 5",
        "backgrounds (200 prompts).",
        "`paraphrases.jsonl` (60) was written by hand with words and sentence forms training does not use",
        "(crimson, orb, drifting, pirouetting, ...). `paraphrases_dev.jsonl` (64, rarer words such as cinnabar,",
        "pennant, trampolining) shares no word with it or with training, for trying wording choices.",
        "`paraphrases_dev2.jsonl` (48) is built like the eval set instead: one or two unusual phrases a prompt",
        "(firebrick, lollipop, pinwheeling, ...), the rest core words; it shares no word with any other set.",
        "`spins_val.jsonl` (48) asks for spinning shapes of *training* triples in core words: drawing alone.",
        "`reference.jsonl` (24) uses face seeds outside training.",
        "",
        "## Model and training",
        f"- config: {json.dumps(cfg)}",
        f"- trained steps: {meta.get('trained_steps')} ({meta.get('train_seconds')} s of training time), "
        f"EMA {settings.get('ema_decay')}, seed {settings.get('seed')}",
        *_phase_rows(meta.get("phases") or [{"from_step": 0, **settings, "device": "cpu"}], meta.get("trained_steps")),
        f"- sampling defaults: {sampling.get('steps', 16)} Euler flow-matching steps "
        f"(FlowMatchEulerDiscreteScheduler, shift {sampling.get('shift', 1.0)}), CFG {sampling.get('guidance', 3.0)}",
        _weights_line(meta.get("averaged_from")),
        *_reader_lines(folder),
        "",
        "## Loss curve",
        "![loss](loss_curve.png)",
        "",
        *loss_rows,
        "",
        "## Evaluation (measured from pixels by `sora-lab model eval`)",
        "",
        *_eval_rows(evals),
        "",
        "Commands:",
        "",
        eval_cmds,
        "",
    ]
    if bench:
        lines += ["## Speed (benchmarks/tiny_model.py)", "", "```", json.dumps(bench, indent=2), "```", ""]
    if notes:
        lines += ["## Notes and limits", "", notes, ""]
    path = folder / "MODEL_CARD.md"
    write_bytes_atomic(path, "\n".join(lines).encode())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("--eval", action="append", default=[], help="name=path/to/eval.json")
    parser.add_argument("--bench", type=Path)
    parser.add_argument("--notes", type=Path)
    args = parser.parse_args()
    evals = {}
    for item in args.eval:
        name, _, path = item.partition("=")
        evals[name] = json.loads(Path(path).read_text())
    bench = json.loads(args.bench.read_text()) if args.bench else None
    notes = args.notes.read_text() if args.notes else ""
    print(write_model_card(args.weights, evals, bench, notes))


if __name__ == "__main__":
    main()
