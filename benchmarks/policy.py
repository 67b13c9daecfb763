"""Prompt-policy latency: `python benchmarks/policy.py [--rounds 5] [--json]`.

Builds the red-team world (cameos, grants, restrictions, rights registrations; see
tests/helpers/consent_world.py), warms up (registry index, MiniLM, rule vectors), then times
`PolicyService.check` over every red-team prompt, `rounds` times. Target: p95 <= 20 ms.

Prints p50/p95/max overall and split by path: prompts that need a MiniLM forward
(a cameo with a negative topic rule, or a registered IP description) and those that
are decided by the matchers alone. Also prints the red-team recall and false-refusal rate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from helpers.consent_world import build_consent_world  # noqa: E402

from sora_lab.lab import Lab  # noqa: E402
from sora_lab.services import Services  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over the red-team set")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    rows = [json.loads(line) for line in (REPO / "tests/redteam_prompts.jsonl").read_text().splitlines() if line]
    with tempfile.TemporaryDirectory() as tmp:
        services = Services.open(Path(tmp) / "lab")
        lab = build_consent_world(Lab(services.home, services=services))
        ids = {u["handle"]: u["user_id"] for u in lab.accounts.list_users()}
        policy = services.policy
        for r in rows:  # warm-up: index, model, cached rule vectors
            policy.check(prompt=r["prompt"], actor_id=ids[r["as"]], cameos=r["cameos"])
        plain, semantic, correct = [], [], {"refuse": [0, 0], "allow": [0, 0]}
        for _ in range(args.rounds):
            for r in rows:
                before = policy.prompt_forwards
                t0 = time.perf_counter()
                decision = policy.check(prompt=r["prompt"], actor_id=ids[r["as"]], cameos=r["cameos"])
                ms = (time.perf_counter() - t0) * 1000
                needs_model = policy.prompt_forwards != before
                (semantic if needs_model else plain).append(ms)
                got = "allow" if decision["allowed"] else "refuse"
                correct[r["expect"]][0] += got == r["expect"]
                correct[r["expect"]][1] += 1
        lab.close()
    every = plain + semantic
    result = {
        "prompts": len(rows),
        "rounds": args.rounds,
        "p50_ms": round(statistics.median(every), 2),
        "p95_ms": round(percentile(every, 0.95), 2),
        "max_ms": round(max(every), 2),
        "matchers_only": {"n": len(plain), "p50_ms": round(statistics.median(plain), 2),
                          "p95_ms": round(percentile(plain, 0.95), 2)},
        "with_minilm": {"n": len(semantic), "p50_ms": round(statistics.median(semantic), 2) if semantic else None,
                        "p95_ms": round(percentile(semantic, 0.95), 2) if semantic else None},
        "refusal_recall": round(correct["refuse"][0] / correct["refuse"][1], 3),
        "false_refusal_rate": round(1 - correct["allow"][0] / correct["allow"][1], 3),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"policy check over {len(rows)} red-team prompts x {args.rounds} rounds (after warm-up)")
    p50, p95, worst = result['p50_ms'], result['p95_ms'], result['max_ms']
    print(f"  all            p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   max {worst:.2f}")
    m, s = result["matchers_only"], result["with_minilm"]
    print(f"  matchers only  p50 {m['p50_ms']:6.2f} ms   p95 {m['p95_ms']:6.2f} ms   (n={m['n']})")
    if s["n"]:
        print(f"  with MiniLM    p50 {s['p50_ms']:6.2f} ms   p95 {s['p95_ms']:6.2f} ms   (n={s['n']})")
    print(f"  refusal recall {result['refusal_recall']:.3f}   false-refusal rate {result['false_refusal_rate']:.3f}")
    print("  target: p95 <= 20 ms", "OK" if result["p95_ms"] <= 20 else "MISSED")


if __name__ == "__main__":
    main()
