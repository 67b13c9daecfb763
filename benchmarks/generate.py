"""Wall time of one 10-second clip, stage by stage: `python benchmarks/generate.py [--runs 3] [--json]`.

Target: the tiny backend makes a full 10 s MP4 (sound, watermark, C2PA) in <= 10 s on 2 CPU
cores, so the model and x264 are both pinned to 2 threads. The output is also checked the way a
player would read it (PyAV: frames, duration, audio) and verified (C2PA), so a fast but broken
clip cannot pass. With a CUDA GPU the tiny model also runs there, and `--pretrained FOLDER`
times a local diffusers pipeline folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sora_lab import provenance  # noqa: E402
from sora_lab.generate import encode  # noqa: E402
from sora_lab.generate.backends import load_backend  # noqa: E402
from sora_lab.generate.pipeline import render_video  # noqa: E402

PROMPTS = [
    "a red ball bounces on a navy background",
    "a yellow star moves right and a blue square moves down on a gray background",
    "a green triangle spins against black",
]
TARGET_S = 10.0


def run(backend, runs: int, threads: int, folder: Path, label: str) -> dict:
    identity = provenance.ensure_signing_identity(folder / "home")
    settings = encode.EncodeSettings(threads=threads)
    rows = []
    for i in range(runs):
        prompt = PROMPTS[i % len(PROMPTS)]
        started = time.perf_counter()
        rendered = render_video(
            backend,
            prompt=prompt,
            seconds=10.0,
            seed=i,
            creator="bench",
            staging=folder / "staging",
            identity=identity,
            encode_settings=settings,
        )
        wall = time.perf_counter() - started
        info = encode.probe(rendered.mp4_path)
        report = provenance.verify(rendered.mp4_path)
        ok = (
            info.n_frames == 240
            and abs(info.duration - 10.0) <= 1 / 24
            and info.audio_codec == "aac"
            and info.faststart
            and report["c2pa_valid"]
        )
        rows.append({"prompt": prompt, "wall_s": round(wall, 3), "timings": rendered.timings, "playable_signed": ok})
        rendered.mp4_path.unlink()
        rendered.poster_path.unlink()
    stages = rows[0]["timings"].keys()
    median = {k: round(statistics.median(r["timings"][k] for r in rows), 3) for k in stages}
    return {
        "label": label,
        "device": str(getattr(backend, "device", "cpu")),
        "model_id": backend.model_id,
        "threads": threads,
        "runs": rows,
        "median_stage_s": median,
        "median_wall_s": round(statistics.median(r["wall_s"] for r in rows), 3),
        "all_playable_and_signed": all(r["playable_signed"] for r in rows),
    }


def _print(result: dict) -> None:
    print(f"{result['label']}: {result['model_id']} on {result['device']}, {result['threads']} threads")
    for stage, seconds in result["median_stage_s"].items():
        if stage != "total":
            print(f"  {stage:<18}{seconds:7.3f} s")
    wall = result["median_wall_s"]
    verdict = "within" if wall <= TARGET_S else "OVER"
    print(f"  {'wall (median)':<18}{wall:7.3f} s   ({verdict} the {TARGET_S:.0f} s target)")
    print(f"  playable + signed: {result['all_playable_and_signed']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the model and x264 (target: 2)")
    parser.add_argument("--pretrained", type=Path, help="also time this diffusers pipeline folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        tiny = load_backend("tiny")
        load_s = time.perf_counter() - t
        cpu = tiny if str(getattr(tiny, "device", "cpu")) == "cpu" else load_backend_cpu()
        run(cpu, 1, args.threads, folder, "warm-up")  # first call pays one-off costs (allocations, caches)
        results.append(run(cpu, args.runs, args.threads, folder, "tiny, CPU") | {"load_s": round(load_s, 3)})
        if torch.cuda.is_available():
            gpu = tiny if str(getattr(tiny, "device", "cpu")).startswith("cuda") else None
            if gpu is not None:
                run(gpu, 1, args.threads, folder, "warm-up")
                results.append(run(gpu, args.runs, args.threads, folder, f"tiny, {torch.cuda.get_device_name(0)}"))
        if args.pretrained:
            backend = load_backend("pretrained", args.pretrained)
            results.append(run(backend, 1, args.threads, folder, "pretrained"))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            _print(result)
    return 0 if all(r["all_playable_and_signed"] for r in results) else 1


def load_backend_cpu():
    from sora_lab.generate.tiny.backend import TinyBackend

    return TinyBackend(device="cpu")


if __name__ == "__main__":
    raise SystemExit(main())
