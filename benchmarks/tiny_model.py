"""Speed of the shipped tiny model: seconds per 10-second clip on this CPU, clips/s batched (CPU, and GPU if any).

    .venv/bin/python benchmarks/tiny_model.py            # CPU, 1 and 2 threads; batched clips/s
    .venv/bin/python benchmarks/tiny_model.py --json     # one JSON object

"Generating the model frames" = text encoding + 16 sampling steps with CFG (batch 2) + decoding
to uint8 frames, i.e. exactly `TinyBackend.render`. Upscaling/encoding is the pipeline's cost.
A prompt with words no training caption uses also runs the prompt reader and a third model input
per step (batch 3), so both kinds of prompt are timed; the 5 s target applies to the slower.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from sora_lab.generate.tiny.backend import TinyBackend

PROMPT = "a crimson ball drifting to the right on a black background"  # unfamiliar words: the reader's path
PROMPTS = {"unfamiliar words (prompt reader, batch 3)": PROMPT,
           "training words (batch 2)": "a red ball moves to the right on a black background"}


def cpu_seconds_per_clip(threads: int, repeats: int, prompt: str) -> dict:
    backend = TinyBackend(device="cpu", threads=threads)
    backend.render(prompt, seconds=10, seed=0)  # warm-up: loads MiniLM, allocates
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        backend.render(prompt, seconds=10, seed=i + 1)
        times.append(time.perf_counter() - t0)
    return {"threads": threads, "median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
            "repeats": repeats, "steps": backend.steps}


def clips_per_second(device: str, batch: int, repeats: int, threads: int | None = None) -> dict:
    """Throughput of `render_batch`: what a GPU (or a CPU rendering many prompts) is for. Same code on both
    devices, so the CPU run in the tests checks the path a GPU takes."""
    backend = TinyBackend(device=device, threads=threads)
    prompts = [PROMPT] * batch
    sync = torch.cuda.synchronize if backend.device.type == "cuda" else (lambda: None)
    backend.render_batch(prompts, seeds=list(range(batch)))  # warm-up
    sync()
    t0 = time.perf_counter()
    for r in range(repeats):
        backend.render_batch(prompts, seeds=[(r + 1) * batch + i for i in range(batch)])
    sync()
    seconds = time.perf_counter() - t0
    if backend.device.type == "cuda":
        name = torch.cuda.get_device_name(backend.device)
    else:
        n = threads or torch.get_num_threads()
        name = f"cpu, {n} thread{'' if n == 1 else 's'}"
    return {"batch": batch, "clips_per_second": round(batch * repeats / seconds, 2), "device": name,
            "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1 (timed clips per setting), got {args.repeats}")
    result = {"cpu_count": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
              "cpu": [{"prompt": kind, **cpu_seconds_per_clip(t, args.repeats, prompt)}
                      for kind, prompt in PROMPTS.items() for t in (1, 2)]}
    result["cpu_batched"] = clips_per_second("cpu", 8, 2, threads=2)
    if torch.cuda.is_available():
        result["gpu"] = [clips_per_second("cuda", b, 3) for b in (64, 256)]
    else:
        result["gpu"] = "no CUDA GPU on this machine"
    if args.json:
        print(json.dumps(result))
        return
    print(f"tiny model, {result['cpu_count']} CPU cores (1-min load {result['load_average_1m']} at start)")
    for row in result["cpu"]:
        print(f"  CPU {row['threads']} thread(s), {row['prompt']}: {row['median_s']:.2f} s per 10-s clip "
              f"(median of {row['repeats']}, {row['steps']} steps with CFG)")
    batched = result["cpu_batched"]
    print(f"  CPU batched ({batched['device']}, batch {batched['batch']}): {batched['clips_per_second']} clips/s")
    if isinstance(result["gpu"], list):
        for row in result["gpu"]:
            print(f"  GPU {row['device']} batch {row['batch']}: {row['clips_per_second']} clips/s")
    else:
        print(f"  GPU: {result['gpu']}")


if __name__ == "__main__":
    main()
